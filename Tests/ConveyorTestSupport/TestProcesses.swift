import Conveyor
import Foundation
import Synchronization

/// Child processes started by the tests, killed when the test process exits so none outlives it.
public enum TestProcesses {
    nonisolated(unsafe) private static var pids: [pid_t] = []
    private static let lock = Mutex(())
    private static let installed: Void = {
        ChildProcess.onStart.withLock { $0 = { pid in TestProcesses.register(pid) } }
        atexit {
            TestProcesses.lock.withLock { _ in
                for pid in TestProcesses.pids { kill(pid, SIGKILL) }
            }
        }
    }()

    /// Remembers a process to kill at exit.
    public static func register(_ pid: pid_t) {
        lock.withLock { _ in pids.append(pid) }
    }

    /// Makes every ChildProcess the tests start die with the test process.
    public static func install() { _ = installed }
}

/// The `conveyor` executable built next to the test bundle (or `CONVEYOR_BIN`).
public var conveyorBinary: String {
    if let path = ProcessInfo.processInfo.environment["CONVEYOR_BIN"] { return path }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("conveyor").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/conveyor").path
}

/// A running `conveyor` process with its output captured to files.
public final class ConveyorProcess: Sendable {
    public let child: ChildProcess
    public let outputPath: String
    public let errorPath: String

    /// Starts `conveyor ARGUMENTS` with the Redis URL and namespace in its environment.
    public init(
        _ arguments: [String], redisURL: String, namespace: String, environment: [String: String] = [:], stdin: String? = nil
    ) throws {
        var env = ProcessInfo.processInfo.environment
        env["CONVEYOR_REDIS_URL"] = redisURL
        env["CONVEYOR_NAMESPACE"] = namespace
        // libmongoc (linked into `conveyor`) creates /dev/shm/mongoc-<pid> at load time; processes the
        // tests kill leave theirs behind, and a later process reusing the pid warns on stderr.
        env["MONGOC_DISABLE_SHM"] = "1"
        for (key, value) in environment { env[key] = value }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-proc-\(UUID().uuidString)").path
        outputPath = base + ".out"
        errorPath = base + ".err"
        TestProcesses.install()
        child = try ChildProcess(conveyorBinary, arguments, environment: env, stdin: stdin, stdout: outputPath, stderr: errorPath)
    }

    public var pid: pid_t { child.pid }
    public var isRunning: Bool { child.isRunning }
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    public var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { child.signal(signal) }

    /// Waits for the process to exit; nil if it is still running after `timeout` seconds.
    public func waitForExit(timeout: Double = 30) async -> Int32? {
        await child.waitForExit(timeout: timeout)
    }

    /// Runs `conveyor ARGUMENTS` to completion and returns its exit status and output.
    public static func run(
        _ arguments: [String], redisURL: String, namespace: String, environment: [String: String] = [:], stdin: String? = nil,
        timeout: Double = 60
    )
        async throws -> (status: Int32, output: String, error: String)
    {
        let process = try ConveyorProcess(arguments, redisURL: redisURL, namespace: namespace, environment: environment, stdin: stdin)
        guard let status = await process.waitForExit(timeout: timeout) else {
            process.signal(SIGKILL)
            return (-1, process.output, process.errorOutput + "\n(timed out)")
        }
        return (status, process.output, process.errorOutput)
    }
}
