import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

/// libmongoc's counters must not live in /dev/shm, where a killed process leaves them behind.
@Suite("No /dev/shm/mongoc-<pid> files")
struct SharedMemoryTests {
    @Test("a worker started without MONGOC_DISABLE_SHM creates none, and kill -9 leaves none")
    func workerKilled() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        var environment = ProcessInfo.processInfo.environment
        environment["MONGOC_DISABLE_SHM"] = nil
        environment["CONVEYOR_REDIS_URL"] = cluster.url
        environment["CONVEYOR_NAMESPACE"] = cluster.namespace
        TestProcesses.install()
        let worker = try ChildProcess(conveyorBinary, ["worker"], environment: environment)
        defer { worker.signal(SIGKILL) }
        let file = "/dev/shm/mongoc-\(worker.pid)"
        let id = try await cluster.enqueueOne("noop")
        _ = try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
        #expect(worker.isRunning)
        #expect(!FileManager.default.fileExists(atPath: file), "the running worker has \(file)")
        worker.signal(SIGKILL)
        _ = await worker.waitForExit(timeout: 10)
        #expect(!FileManager.default.fileExists(atPath: file), "kill -9 left \(file)")
    }
}
