import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Pause and resume: a paused queue keeps its jobs until resumed")
struct PauseTests {
    @Test("a paused queue is not consumed while another is; resume lets the worker pick it up")
    func pauseAndResume() async throws {
        try await withBroker { broker in
            #expect(try await broker.pause(queue: "slow") == true)
            #expect(try await broker.pause(queue: "slow") == false)
            #expect(try await broker.stats().queues["slow"]?.paused == true)
            let paused = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "slow", priority: .high))
            try await withWorker(broker, options: WorkerOptions(queues: ["slow", "fast"], concurrency: 2)) { _ in
                // Enqueued after the paused job, and of lower priority: it runs, the paused one does not.
                let other = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "fast", priority: .low))
                try await waitForState(broker, other.id, .succeeded)
                let more = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "fast"))
                try await waitForState(broker, more.id, .succeeded)
                #expect(try await broker.job(paused.id)?.state == .queued)
                #expect(try await broker.stats().queues["slow"]?.high == 1)

                #expect(try await broker.resume(queue: "slow") == true)
                try await waitForState(broker, paused.id, .succeeded, timeout: 5)
            }
            #expect(try await broker.resume(queue: "slow") == false)
            #expect(try await broker.stats().queues["slow"]?.paused == false)
            let names = try await events(broker).filter { $0["queue"] == "slow" && $0["job"] == nil }.compactMap { $0["event"] }
            #expect(names == ["paused", "resumed"])
        }
    }

    @Test("claim skips a paused queue")
    func claimSkipsPaused() async throws {
        try await withBroker { broker in
            _ = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "p"))
            try await broker.pause(queue: "p")
            #expect(try await claim(broker, worker: "w", queues: ["p"]).isEmpty)
            try await broker.resume(queue: "p")
            #expect(try await claim(broker, worker: "w", queues: ["p"]).count == 1)
            // Several served queues, some paused, checked in one call: only the others are claimed.
            for queue in ["a", "b", "c", "d"] { _ = try await broker.enqueue(EnqueueRequest(type: "echo", queue: queue)) }
            try await broker.pause(queue: "b")
            try await broker.pause(queue: "d")
            let claimed = try await claim(broker, worker: "w", queues: ["a", "b", "c", "d", "unknown"])
            #expect(claimed.map(\.queue).sorted() == ["a", "c"])
        }
    }

    @Test("an invalid queue name is refused")
    func invalidName() async throws {
        try await withBroker { broker in
            await #expect(throws: ConveyorError.self) { try await broker.pause(queue: "no spaces") }
        }
    }
}
