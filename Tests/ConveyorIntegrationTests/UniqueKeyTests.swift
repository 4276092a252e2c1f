import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Idempotency keys: one unfinished job per unique key")
struct UniqueKeyTests {
    @Test("a second enqueue while the first is unfinished returns the first job and enqueues nothing")
    func duplicateWhileUnfinished() async throws {
        try await withBroker { broker in
            let first = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "order-1"))
            #expect(first.duplicate == false)
            let second = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"other":true}"#, uniqueKey: "order-1"))
            #expect(second.id == first.id && second.state == .queued && second.duplicate)
            let stats = try await broker.stats()
            #expect(stats.totals["enqueued"] == 1)
            #expect(stats.queues["default"]?.normal == 1)
            #expect(try await eventNames(broker, job: first.id) == ["enqueued"])
            #expect(try await events(broker).count == 1)

            // Still unfinished while running: the duplicate reports the running job.
            let claimed = try #require(try await claim(broker, worker: "w").first)
            #expect(try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "order-1")).state == .running)
            #expect(try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "order-1")).id == first.id)
            // And while retrying.
            _ = try await acknowledge(broker, [(claimed, .failure(error: "x"))])
            let retrying = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "order-1"))
            #expect(retrying.id == first.id && retrying.state == .retrying && retrying.duplicate)
            #expect(try await broker.stats().totals["enqueued"] == 1)
        }
    }

    @Test("a scheduled job holds its key too")
    func scheduledHoldsKey() async throws {
        try await withBroker { broker in
            let first = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 60_000, uniqueKey: "k"))
            let second = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "k"))
            #expect(second.id == first.id && second.state == .scheduled && second.duplicate)
            #expect(try await broker.stats().delayed == 1)
            #expect(try await broker.stats().queues["default"]?.normal == 0)
        }
    }

    @Test("after the first job finished, the key enqueues a new job")
    func newJobAfterFinish() async throws {
        try await withBroker { broker in
            let first = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "report"))
            try await withWorker(broker) { _ in
                try await waitForState(broker, first.id, .succeeded)
                let second = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "report"))
                #expect(second.id != first.id)
                #expect(second.duplicate == false)
                try await waitForState(broker, second.id, .succeeded)
            }
            // A dead or cancelled holder frees the key as well.
            let doomed = try await broker.enqueue(EnqueueRequest(type: "fail", payload: #"{"times":5}"#, maxAttempts: 1, uniqueKey: "d"))
            try await withWorker(broker) { _ in try await waitForState(broker, doomed.id, .dead) }
            #expect(try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "d")).duplicate == false)
            let cancelled = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "idle", uniqueKey: "c"))
            #expect(try await broker.cancel(cancelled.id).outcome == .cancelled)
            #expect(try await broker.enqueue(EnqueueRequest(type: "echo", queue: "idle", uniqueKey: "c")).duplicate == false)
            #expect(try await broker.stats().totals["enqueued"] == 6)
        }
    }

    @Test("the same key twice in one batch enqueues one job")
    func sameKeyInBatch() async throws {
        try await withBroker { broker in
            let results = try await broker.enqueue(batch: [
                EnqueueRequest(type: "echo", uniqueKey: "a"), EnqueueRequest(type: "echo", uniqueKey: "b"),
                EnqueueRequest(type: "echo", uniqueKey: "a"), EnqueueRequest(type: "echo"),
            ])
            #expect(results.map(\.duplicate) == [false, false, true, false])
            #expect(results[2].id == results[0].id)
            #expect(Set(results.map(\.id)).count == 3)
            let stats = try await broker.stats()
            #expect(stats.totals["enqueued"] == 3)
            #expect(stats.queues["default"]?.normal == 3)
        }
    }

    @Test("retrying a dead job takes its key back, unless another unfinished job holds it")
    func retryReclaimsKey() async throws {
        try await withBroker { broker in
            let first = try await broker.enqueue(EnqueueRequest(type: "echo", maxAttempts: 1, uniqueKey: "k"))
            let claimed = try #require(try await claim(broker, worker: "w").first)
            #expect(try await acknowledge(broker, [(claimed, .failure(error: "boom"))]) == [first.id: "dead"])
            let second = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "k"))
            #expect(second.id != first.id && !second.duplicate)
            #expect(try await broker.retry(ids: [first.id]) == [first.id: "duplicate"])
            #expect(try await broker.job(first.id)?.state == .dead)
            _ = try await broker.cancel(second.id)
            #expect(try await broker.retry(ids: [first.id]) == [first.id: "retried"])
            let third = try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "k"))
            #expect(third.id == first.id && third.duplicate)
        }
    }
}
