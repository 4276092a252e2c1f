import Conveyor
import ConveyorHistory
import Foundation
import Synchronization

/// A real MongoDB-protocol server (SecantusDB's `secantusd-py`, installed into `.venv/` by
/// `scripts/install-mongo.sh`) started for the tests on a free loopback port, with its storage in a
/// temp directory (kept across `restart()`). Killed when the test process exits.
///
/// `CONVEYOR_SECANTUSD` overrides the executable. Each test uses a database of its own (`url(database:)`
/// with a UUID), never dropping another test's data.
public final class TestMongo: Sendable {
    public let port: Int
    public let directory: String
    /// How long a client waits for the server (`serverSelectionTimeoutMS`; the connect timeout is the
    /// same, at most 10 s): 20 s for the shared server, which the whole suite loads at once (a 2 s
    /// connect timeout failed handshakes under that load), 3 s for a test's own server, which tests
    /// stop on purpose and whose calls must then fail in seconds.
    private let waitMilliseconds: Int
    private let process = Mutex<ChildProcess?>(nil)
    private static let sharedServer = Mutex<Task<TestMongo, any Error>?>(nil)

    /// The server most tests share, started on first use.
    public static var shared: TestMongo {
        get async throws {
            let task = sharedServer.withLock { task in
                if let task { return task }
                let started = Task {
                    let server = try TestMongo(waitMilliseconds: 20_000); try await server.start(); return server
                }
                task = started
                return started
            }
            return try await task.value
        }
    }

    /// Prepares a port and a storage directory; `start()` starts the server.
    public convenience init() throws { try self.init(waitMilliseconds: 3_000) }

    private init(waitMilliseconds: Int) throws {
        self.waitMilliseconds = waitMilliseconds
        self.port = try freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-mongo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // An empty config file: `--config` stops secantusd-py from picking up a secantusd.toml it finds
        // in the working directory or home.
        _ = FileManager.default.createFile(atPath: directory + "/secantusd.toml", contents: Data())
    }

    /// `secantusd-py` in the package's `.venv/`, or `CONVEYOR_SECANTUSD`.
    public static var executable: String {
        if let path = ProcessInfo.processInfo.environment["CONVEYOR_SECANTUSD"], !path.isEmpty { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".venv/bin/secantusd-py").path
    }

    /// A URL for `database` on this server, with the server's wait (see `waitMilliseconds`).
    public func url(database: String) -> String {
        "mongodb://127.0.0.1:\(port)/\(database)?serverSelectionTimeoutMS=\(waitMilliseconds)&connectTimeoutMS=\(min(waitMilliseconds, 10_000))"
    }

    /// A client for a fresh database named `test_<UUID>`.
    public func client(threads: Int = 4) throws -> MongoClient {
        let database = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        return try MongoClient(configuration: MongoConfiguration(url: url(database: database), threads: threads))
    }

    public var logPath: String { directory + "/secantusd.log" }

    /// Starts the server (again) on the same port and storage, and waits until it answers `ping`.
    public func start() async throws {
        TestProcesses.install()
        let executable = Self.executable
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw HistoryError(
                domain: HistoryError.conveyorDomain, code: 0, message: "\(executable) is missing: run scripts/install-mongo.sh")
        }
        let arguments = [
            "--config", directory + "/secantusd.toml", "--host", "127.0.0.1", "--port", String(port),
            "--storage-path", directory + "/data", "--log-level", "WARNING",
        ]
        // At the lowest CPU priority (nice execs it, same pid): its start-up burst of Python and
        // WiredTiger on a small machine would otherwise starve the broker tests' sub-second timings.
        let process = try ChildProcess("nice", ["-n", "19", executable] + arguments, stdout: logPath, stderr: logPath)
        self.process.withLock { $0 = process }
        // Wait for the port to accept (cheap), then for a ping to answer.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.isRunning, !portAccepts(port) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let probe = try MongoClient(configuration: MongoConfiguration(url: url(database: "admin"), threads: 1))
        while Date() < deadline, process.isRunning {
            if (try? await probe.ping()) != nil {
                await probe.close()
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await probe.close()
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw HistoryError(
            domain: HistoryError.conveyorDomain, code: 0, message: "secantusd-py on port \(port) did not start:\n\(log.suffix(2000))")
    }

    /// Stops the server with SIGTERM (SIGKILL after 10 s) and waits for it to exit.
    public func stop() {
        let process = self.process.withLock { process -> ChildProcess? in
            defer { process = nil }
            return process
        }
        process?.stop()
    }

    /// Stops and starts the server: every client connection drops, the data stays.
    public func restart() async throws {
        try await onThread { self.stop() }
        try await start()
    }
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
public func portAccepts(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
