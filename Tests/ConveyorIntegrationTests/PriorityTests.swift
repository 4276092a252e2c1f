import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Claiming: strict priority across the served queues")
struct PriorityTests {
    @Test("high before normal before low, across queues, FIFO within a list")
    func strictPriority() async throws {
        try await withBroker { broker in
            var ids: [String: String] = [:]
            for (name, queue, priority) in [
                ("a-low", "a", JobPriority.low), ("b-normal", "b", .normal), ("a-normal-1", "a", .normal),
                ("b-high", "b", .high), ("a-normal-2", "a", .normal), ("a-high", "a", .high),
            ] {
                ids[name] = try await broker.enqueue(EnqueueRequest(type: "noop", queue: queue, priority: priority)).id
            }
            let claimed = try await broker.pool.withConnection { connection in
                try broker.claim(on: connection, worker: "w1", leaseMilliseconds: 5_000, max: 10, queues: ["a", "b"])
            }
            let order = claimed.map { job in ids.first { $0.value == job.id }!.key }
            #expect(order == ["a-high", "b-high", "a-normal-1", "a-normal-2", "b-normal", "a-low"])
            #expect(claimed.allSatisfy { $0.attempt == 1 && $0.token.hasPrefix("w1#") })
            let job = try #require(try await broker.job(claimed[0].id))
            #expect(job.state == .running)
            #expect(try await broker.stats().running == 6)
        }
    }

    @Test(
        "wake tokens: a push into an empty list wakes, one into a backlog does not; a claim that leaves jobs wakes; a token taken without a claim goes back"
    )
    func wakeTokens() async throws {
        try await withBroker { broker in
            let wake = broker.keys.wake("w")
            func tokens() async throws -> Int { try await broker.pool.command("LLEN", wake).int ?? -1 }
            _ = try await broker.enqueue(EnqueueRequest(type: "noop", queue: "w"))
            #expect(try await tokens() == 1)
            #expect(try await broker.stats().queues["w"] != nil)
            // A worker's BRPOP takes the token; another job joins the backlog without another token.
            func take() async throws -> String? {
                try await broker.pool.withConnection { connection in
                    try broker.waitForWake(on: connection, queues: ["w"], worker: "w1", timeoutSeconds: 1)
                }
            }
            #expect(try await take() == wake)
            _ = try await broker.enqueue(EnqueueRequest(type: "noop", queue: "w"))
            #expect(try await tokens() == 0)
            // A push into the queue's empty low-priority list wakes, though the normal one holds jobs.
            _ = try await broker.enqueue(batch: [EnqueueRequest(type: "noop", queue: "w", priority: .low)])
            #expect(try await tokens() == 1)
            // The worker that takes it claims part of the backlog and leaves a token for the rest.
            #expect(try await take() == wake)
            let claimed = try await broker.pool.withConnection { connection in
                try broker.claim(on: connection, worker: "w1", leaseMilliseconds: 5_000, max: 1, queues: ["w"])
            }
            #expect(claimed.count == 1)
            #expect(try await tokens() == 1)
            // A full claim while that token is still there (a busy worker claims without BRPOP) adds none.
            let next = try await broker.pool.withConnection { connection in
                try broker.claim(on: connection, worker: "w1", leaseMilliseconds: 5_000, max: 1, queues: ["w"])
            }
            #expect(next.count == 1)
            #expect(try await tokens() == 1)
            // A stopping worker gives back a queue's token it took and will not claim for; never its own.
            #expect(try await take() == wake)
            #expect(try await tokens() == 0)
            try await broker.returnWake(wake)
            #expect(try await tokens() == 1)
            try await broker.returnWake(broker.keys.workerWake("w1"))
            #expect(try await broker.pool.command("EXISTS", broker.keys.workerWake("w1")).int == 0)
        }
    }

    @Test("a worker claims no more than it asks for and only from its queues")
    func claimLimitAndQueues() async throws {
        try await withBroker { broker in
            _ = try await broker.enqueue(batch: (0..<5).map { _ in EnqueueRequest(type: "noop", queue: "mine") })
            _ = try await broker.enqueue(EnqueueRequest(type: "noop", queue: "other", priority: .high))
            let claimed = try await broker.pool.withConnection { connection in
                try broker.claim(on: connection, worker: "w", leaseMilliseconds: 5_000, max: 3, queues: ["mine"])
            }
            #expect(claimed.count == 3)
            #expect(claimed.allSatisfy { $0.queue == "mine" })
            let stats = try await broker.stats()
            #expect(stats.queues["mine"]?.normal == 2)
            #expect(stats.queues["other"]?.high == 1)
        }
    }

    @Test("a worker processes jobs end to end in priority order")
    func workerEndToEnd() async throws {
        try await withBroker { broker in
            let low = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"n":1}"#, priority: .low))
            let high = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"n":2}"#, priority: .high))
            try await withWorker(broker, options: WorkerOptions(concurrency: 1)) { _ in
                let lowJob = try await waitForState(broker, low.id, .succeeded)
                let highJob = try await waitForState(broker, high.id, .succeeded)
                #expect(highJob.startedAt! <= lowJob.startedAt!)
                #expect(highJob.result == #"{"n":2}"#)
            }
        }
    }
}
