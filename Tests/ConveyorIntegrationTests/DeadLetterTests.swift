import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// `flaky`: fails or succeeds as the registry it is registered in says.
private struct Flaky: JobParameters {
    static let jobType = "flaky"
}

private func flakyRegistry(failing: Bool) -> JobRegistry {
    testRegistry { registry in
        registry.register(Flaky.self) { (_: Flaky, context: JobContext) -> String in
            if failing { throw ConveyorError(.handler, "flaky failed attempt \(context.attempt)") }
            return "ran attempt \(context.attempt)"
        }
    }
}

@Suite("Dead letters: jobs out of attempts, and retrying or deleting them")
struct DeadLetterTests {
    @Test("after max_attempts the job is dead with its last error, and listed in deadJobs")
    func dies() async throws {
        try await withBroker { broker in
            let enqueued = try await broker.enqueue(
                EnqueueRequest(type: "fail", payload: #"{"times":10}"#, maxAttempts: 2, retryPolicy: .fixed(milliseconds: 10)))
            try await withWorker(broker) { _ in
                let job = try await waitForState(broker, enqueued.id, .dead)
                #expect(job.attempts == 2)
                #expect(job.lastError == "failing on purpose: attempt 2 of the first 10")
                #expect(job.finishedAt != nil)
            }
            let dead = try await broker.deadJobs()
            #expect(dead.map(\.id) == [enqueued.id])
            let names = try await eventNames(broker, job: enqueued.id)
            #expect(names == ["enqueued", "started", "retrying", "queued", "started", "dead"])
            let deadEvent = try #require(try await events(broker, job: enqueued.id).last)
            #expect(deadEvent["attempt"] == "2")
            #expect(deadEvent["error"] == "failing on purpose: attempt 2 of the first 10")
            let stats = try await broker.stats()
            #expect(stats.dead == 1)
            #expect(stats.totals["dead"] == 1)
            #expect(stats.totals["failed"] == 2)
            #expect(stats.totals["retried"] == 1)
        }
    }

    @Test("retry(ids:) puts a dead job back on its queue with attempts reset, and it runs again")
    func retryDead() async throws {
        try await withBroker { broker in
            let enqueued = try await broker.enqueue(EnqueueRequest(type: "flaky", maxAttempts: 2, retryPolicy: .none))
            try await withWorker(broker, registry: flakyRegistry(failing: true)) { _ in
                try await waitForState(broker, enqueued.id, .dead)
            }
            let outcome = try await broker.retry(ids: [enqueued.id, "no-such-job"])
            #expect(outcome == [enqueued.id: "retried", "no-such-job": "notfound"])
            let queued = try #require(try await broker.job(enqueued.id))
            #expect(queued.state == .queued)
            #expect(queued.attempts == 0)
            #expect(queued.finishedAt == nil)
            #expect(try await broker.deadJobs().isEmpty)
            #expect(try await broker.stats().queues["default"]?.normal == 1)
            let retried = try #require(try await events(broker, job: enqueued.id).last)
            #expect(retried["event"] == "queued")
            #expect(retried["from"] == "dead")
            // A second retry of a job that is no longer dead changes nothing (it answers the state that kept it).
            #expect(try await broker.retry(ids: [enqueued.id]) == [enqueued.id: "queued"])
            #expect(try await broker.stats().queues["default"]?.normal == 1)
            #expect(try await broker.stats().totals["enqueued"] == 2)

            try await withWorker(broker, registry: flakyRegistry(failing: false)) { _ in
                let job = try await waitForState(broker, enqueued.id, .succeeded)
                #expect(job.attempts == 1)
                #expect(job.result == #""ran attempt 1""#)
            }
            #expect(try await broker.stats().totals["enqueued"] == 2)
        }
    }

    @Test("retryAllDead requeues every dead job; deleteDead removes dead jobs for good")
    func retryAllAndDelete() async throws {
        try await withBroker { broker in
            let ids = try await broker.enqueue(batch: (0..<5).map { _ in EnqueueRequest(type: "flaky", maxAttempts: 1) }).map(\.id)
            let alive = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "other")).id
            try await withWorker(broker, registry: flakyRegistry(failing: true)) { _ in
                try await eventually { try await broker.stats().dead == 5 }
            }
            #expect(Set(try await broker.deadJobs().map(\.id)) == Set(ids))
            #expect(try await broker.deadJobs(offset: 1, limit: 2).count == 2)

            #expect(try await broker.deleteDead(ids: [ids[0], ids[1], alive, "missing"]) == 2)
            #expect(try await broker.job(ids[0]) == nil)
            #expect(try await broker.job(ids[1]) == nil)
            #expect(try await broker.job(alive)?.state == .queued)
            #expect(try await eventNames(broker, job: ids[0]).last == "deleted")
            #expect(try await broker.stats().dead == 3)

            #expect(try await broker.retryAllDead() == 3)
            #expect(try await broker.stats().dead == 0)
            #expect(try await broker.stats().queues["default"]?.normal == 3)
            for id in ids[2...] {
                let job = try #require(try await broker.job(id))
                #expect(job.state == .queued && job.attempts == 0)
            }
            #expect(try await broker.retryAllDead() == 0)
        }
    }

    @Test("the deadMax cap drops the oldest dead jobs with a dropped event")
    func deadMaxCap() async throws {
        try await withBroker(configure: { $0.deadMax = 3 }) { broker in
            // Ids in the order the jobs die, so jobs dying in the same millisecond still have a defined age.
            let ids = (1...5).map { "dead-\($0)" }
            _ = try await broker.enqueue(batch: ids.map { EnqueueRequest(type: "flaky", maxAttempts: 1, id: $0) })
            for id in ids {
                let claimed = try #require(try await claim(broker, worker: "w", max: 1).first)
                #expect(claimed.id == id)
                #expect(try await acknowledge(broker, [(claimed, .failure(error: "no"))]) == [id: "dead"])
            }
            #expect(try await broker.deadJobs().map(\.id) == ["dead-5", "dead-4", "dead-3"])
            #expect(try await broker.stats().dead == 3)
            for id in ["dead-1", "dead-2"] {
                #expect(try await broker.job(id) == nil)
                let dropped = try #require(try await events(broker, job: id).last)
                #expect(dropped["event"] == "dropped")
                #expect(dropped["reason"]?.contains("cap of 3") == true)
            }
            #expect(try await broker.job("dead-3")?.state == .dead)
            #expect(try await broker.stats().totals["dead"] == 5)
        }
    }
}
