import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("conveyor dev: the local cluster of make run")
struct DevProcessTests {
    /// SIGKILLs every process whose command line names `directory` or that works in it (the servers
    /// `conveyor dev` started there lead their own process groups, so nothing else stops them if the
    /// test fails; redis-server rewrites its command line, but works in its `--dir`).
    private func killProcesses(in directory: String) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid() else { continue }
            let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline").map { String(decoding: $0, as: UTF8.self) }
            let workingDirectory = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd")
            if commandLine?.contains(directory) == true || workingDirectory?.hasPrefix(directory) == true { kill(pid, SIGKILL) }
        }
    }

    @Test("Ctrl-C (SIGINT to the terminal's process group) lets a running job finish and be recorded, then stops Redis and MongoDB; exit 0")
    func ctrlCStopsGracefully() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-dev-\(UUID().uuidString)").path
        defer {
            killProcesses(in: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let (redisPort, mongoPort) = (try freePort(), try freePort())
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CONVEYOR_") }
        environment["MONGOC_DISABLE_SHM"] = "1"
        TestProcesses.install()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = directory + "/dev.log"
        // Leads a process group of its own, as a shell's foreground job does: a SIGINT to that group
        // is what the terminal sends on Ctrl-C.
        let dev = try ChildProcess(
            conveyorBinary,
            [
                "dev", "--data-dir", directory, "--redis-port", String(redisPort), "--mongo-port", String(mongoPort), "--api-port", "0",
                "--grace", "20s",
            ], environment: environment, stdout: log, stderr: log, ownProcessGroup: true)
        defer { if dev.isRunning { dev.signal(SIGKILL) } }
        func output() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try await eventually(timeout: 60, "conveyor dev did not start: \(output())") { output().contains("Conveyor is running") }

        let broker = Broker(redis: try RedisConfiguration(url: "redis://127.0.0.1:\(redisPort)"), poolSize: 1)
        defer { broker.shutdown() }
        let id = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":2000}"#)).id
        _ = try await waitForState(broker, id, .running)
        #expect(kill(-dev.pid, SIGINT) == 0)
        #expect(await dev.waitForExit(timeout: 30) == 0, "dev's output: \(output())")
        #expect(!output().contains("cannot acknowledge"), "dev's output: \(output())")
        // Its servers stopped with it.
        for port in [redisPort, mongoPort] {
            let connected = connectLoopback(port: port)
            if let connected { close(connected) }
            #expect(connected == nil, "something still listens on port \(port)")
        }
        // The job finished during the shutdown and was recorded before Redis stopped: its data,
        // read back by a redis-server on the same append-only file.
        let reader = try ChildProcess(
            "redis-server",
            ["--port", String(redisPort), "--bind", "127.0.0.1", "--dir", directory + "/redis", "--appendonly", "yes", "--save", ""])
        defer { reader.stop() }
        try await eventually(timeout: 20, "the Redis data could not be read back") { (try? await broker.job(id)) != nil }
        let job = try #require(try await broker.job(id))
        #expect(job.state == .succeeded && job.attempts == 1, "\(job.state), \(job.attempts) attempts; dev's output: \(output())")
    }
}
