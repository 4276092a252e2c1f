import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Workers registry: live workers are listed while they run")
struct WorkerRegistryTests {
    @Test("a running worker appears with its queues and concurrency, and is gone after it stops")
    func registry() async throws {
        try await withBroker { broker in
            let options = WorkerOptions(queues: ["alpha", "beta"], concurrency: 3, id: "registry-worker")
            try await withWorker(broker, options: options) { worker in
                #expect(worker.id == "registry-worker")
                var listed: WorkerInfo?
                try await eventually(timeout: 5) {
                    listed = try await broker.workers().first { $0.id == "registry-worker" }
                    return listed != nil
                }
                #expect(listed?.queues == ["alpha", "beta"])
                #expect(listed?.concurrency == 3)
                #expect(listed?.pid == Int(getpid()))
                #expect(try await broker.workers().count == 1)
            }
            #expect(try await broker.workers().isEmpty)
            #expect(try await broker.pool.command("EXISTS", broker.keys.worker("registry-worker")).int == 0)
        }
    }

    @Test("a running worker lists the job it runs")
    func listsRunningJobs() async throws {
        try await withBroker { broker in
            let job = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":3000}"#))
            try await withWorker(broker, options: WorkerOptions(heartbeatMilliseconds: 50, id: "busy-worker")) { _ in
                try await eventually(timeout: 5) {
                    try await broker.workers().first { $0.id == "busy-worker" }?.running == [job.id]
                }
                _ = try await broker.cancel(job.id)
            }
        }
    }
}
