import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Cancel: stops a job in any unfinished state")
struct CancelTests {
    @Test("a queued job leaves its list and is never claimed")
    func queued() async throws {
        try await withBroker { broker in
            let job = try await broker.enqueue(EnqueueRequest(type: "echo"))
            let keep = try await broker.enqueue(EnqueueRequest(type: "echo"))
            let outcome = try await broker.cancel(job.id)
            #expect(outcome.outcome == .cancelled)
            #expect(outcome.previous == .queued)
            #expect(try await broker.job(job.id)?.state == .cancelled)
            #expect(try await broker.stats().queues["default"]?.normal == 1)
            #expect(try await claim(broker, worker: "w").map(\.id) == [keep.id])
            let event = try #require(try await events(broker, job: job.id).last)
            #expect(event["event"] == "cancelled")
            #expect(event["from"] == "queued")
            #expect(try await broker.stats().totals["cancelled"] == 1)
        }
    }

    @Test("scheduled and retrying jobs leave the delayed set")
    func delayed() async throws {
        try await withBroker { broker in
            let scheduled = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 60_000))
            let retrying = try await broker.enqueue(EnqueueRequest(type: "echo", retryPolicy: .fixed(milliseconds: 60_000)))
            let claimed = try #require(try await claim(broker, worker: "w").first)
            #expect(try await acknowledge(broker, [(claimed, .failure(error: "again"))]) == [retrying.id: "retrying"])
            #expect(try await broker.stats().delayed == 2)

            #expect(try await broker.cancel(scheduled.id) == (.cancelled, .scheduled))
            #expect(try await broker.cancel(retrying.id) == (.cancelled, .retrying))
            #expect(try await broker.stats().delayed == 0)
            #expect(try await broker.pool.command("ZCARD", broker.keys.delayed).int == 0)
            #expect(try await broker.job(scheduled.id)?.state == .cancelled)
            #expect(try await broker.job(retrying.id)?.state == .cancelled)
            #expect(try await broker.promoteDue().nextDueMilliseconds == nil)
        }
    }

    @Test("a running job is cancelled at once, its handler stops and its worker slot frees")
    func running() async throws {
        try await withBroker { broker in
            let sleeper = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":8000}"#))
            try await withWorker(broker, options: WorkerOptions(concurrency: 1, heartbeatMilliseconds: 100)) { worker in
                try await waitForState(broker, sleeper.id, .running)
                let next = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"next":true}"#))
                let cancelledAt = Date()
                #expect(try await broker.cancel(sleeper.id) == (.cancelled, .running))
                #expect(try await broker.job(sleeper.id)?.state == .cancelled)
                // The only slot frees when the heartbeat cancels the sleeping handler: the next job runs long before 8 s.
                let done = try await waitForState(broker, next.id, .succeeded, timeout: 5)
                #expect(try #require(done.startedAt).timeIntervalSince(cancelledAt) < 3)
                #expect(done.result == #"{"next":true}"#)
                try await eventually(timeout: 3) { try await broker.stats().running == 0 }
                #expect(worker.processedCount == 2)
            }
            let job = try #require(try await broker.job(sleeper.id))
            #expect(job.state == .cancelled)
            #expect(job.lastError == nil)
            #expect(try await eventNames(broker, job: sleeper.id) == ["enqueued", "started", "cancelled"])
            let stats = try await broker.stats()
            #expect(stats.totals["cancelled"] == 1)
            #expect(stats.totals["failed"] == nil)
            #expect(stats.totals["succeeded"] == 1)
            #expect(try await broker.pool.command("EXISTS", broker.keys.lock(sleeper.id)).int == 0)
        }
    }

    @Test("a finished job answers alreadyFinished; an unknown id notFound")
    func finishedAndUnknown() async throws {
        try await withBroker { broker in
            let job = try await broker.enqueue(EnqueueRequest(type: "echo"))
            try await withWorker(broker) { _ in try await waitForState(broker, job.id, .succeeded) }
            #expect(try await broker.cancel(job.id) == (.alreadyFinished, .succeeded))
            #expect(try await broker.job(job.id)?.state == .succeeded)
            let cancelled = try await broker.enqueue(EnqueueRequest(type: "echo", queue: "idle"))
            _ = try await broker.cancel(cancelled.id)
            #expect(try await broker.cancel(cancelled.id) == (.alreadyFinished, .cancelled))
            #expect(try await broker.cancel("no-such-job").outcome == .notFound)
            #expect(try await broker.cancel("bad id with spaces").outcome == .notFound)
            #expect(try await broker.stats().totals["cancelled"] == 1)
        }
    }
}
