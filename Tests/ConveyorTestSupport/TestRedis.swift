import Conveyor
import Foundation
import RedisClient
import Synchronization

/// A real `redis-server` started for the tests on a free loopback port, with its data in a temp
/// directory (AOF on, so a restart keeps the jobs). Killed when the test process exits.
public final class TestRedis: Sendable {
    public let port: Int
    public let directory: String
    public let password: String?
    /// More `redis-server` arguments (`["--maxmemory-policy", "allkeys-lru"]`).
    public let extraArguments: [String]
    private let process = Mutex<ChildProcess?>(nil)

    /// The server most tests share; each test uses its own namespace.
    public static let shared: TestRedis = {
        do { return try TestRedis() } catch { fatalError("cannot start redis-server for the tests: \(error)") }
    }()

    public init(password: String? = nil, extraArguments: [String] = []) throws {
        self.port = try freePort()
        self.password = password
        self.extraArguments = extraArguments
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-redis-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
    }

    public var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(port)" }
        return "redis://127.0.0.1:\(port)"
    }

    public var socketPath: String { directory + "/redis.sock" }

    public var configuration: RedisConfiguration {
        // swift-format-ignore: NeverUseForceTry
        try! RedisConfiguration(url: url)
    }

    /// Starts the server (again) on the same port and directory, and waits until it answers.
    public func start() throws {
        TestProcesses.install()
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--unixsocket", socketPath, "--unixsocketperm", "700",
            "--logfile", "redis.log",
        ]
        if let password { arguments += ["--requirepass", password] }
        arguments += extraArguments
        let process = try ChildProcess("redis-server", arguments)
        self.process.withLock { $0 = process }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if answers() { return }
            usleep(20_000)
        }
        throw RedisError(.connection, "redis-server on port \(port) did not start; see \(directory)/redis.log")
    }

    private func answers() -> Bool {
        guard let configuration = try? RedisConfiguration(url: url) else { return false }
        let connection = RedisConnection(configuration: configuration)
        return (try? connection.send([Array("PING".utf8)]))?.string == "PONG"
    }

    /// Stops the server with SIGTERM (it flushes its AOF) and waits for it to exit.
    public func stop() {
        let process = self.process.withLock { process -> ChildProcess? in
            defer { process = nil }
            return process
        }
        process?.stop()
    }

    /// Stops and starts the server: every client connection drops, the data stays.
    public func restart() throws {
        stop()
        try start()
    }
}

/// Finds a free TCP port on 127.0.0.1.
public func freePort() throws -> Int {
    // A random port below the kernel's ephemeral range (32768-60999 here), checked free by binding it:
    // a port from that range (what binding port 0 gives) can be taken as the source port of an
    // outgoing connection between this check and the server's own bind, and the suite makes many.
    for _ in 0..<200 {
        let port = Int.random(in: 20_000..<32_000)
        if portIsFree(port) { return port }
    }
    throw RedisError(.connection, "no free port found in 20000-31999")
}

/// Whether 127.0.0.1:`port` can be bound now.
func portIsFree(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    return withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 }
    }
}
