import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Events and stats: one event per state change, totals counted once")
struct EventsAndStatsTests {
    @Test("a job's lifecycle appends enqueued, started and succeeded with their fields")
    func lifecycle() async throws {
        try await withBroker { broker in
            let job = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"x":1}"#, queue: "ev", priority: .high))
            try await withWorker(broker, options: WorkerOptions(queues: ["ev"], id: "worker-ev")) { _ in
                try await waitForState(broker, job.id, .succeeded)
            }
            let all = try await events(broker, job: job.id)
            #expect(all.compactMap { $0["event"] } == ["enqueued", "started", "succeeded"])
            let enqueued = all[0]
            #expect(enqueued["type"] == "echo")
            #expect(enqueued["queue"] == "ev")
            #expect(enqueued["priority"] == "high")
            #expect(enqueued["state"] == "queued")
            #expect(enqueued["payload"] == #"{"x":1}"#)
            #expect(all[1]["attempt"] == "1")
            #expect(all[1]["worker"] == "worker-ev")
            let succeeded = all[2]
            #expect(succeeded["attempt"] == "1")
            #expect(succeeded["result"] == #"{"x":1}"#)
            #expect(number(succeeded, "duration_ms").map { $0 >= 0 } == true)
            let stamps = all.compactMap { number($0, "ts") }
            #expect(stamps == stamps.sorted() && stamps.count == 3)
        }
    }

    @Test("the retry path appends retrying and queued from retrying")
    func retryPath() async throws {
        try await withBroker { broker in
            let job = try await broker.enqueue(
                EnqueueRequest(type: "fail", payload: #"{"times":1}"#, retryPolicy: .fixed(milliseconds: 10)))
            try await withWorker(broker) { _ in try await waitForState(broker, job.id, .succeeded) }
            let all = try await events(broker, job: job.id)
            #expect(all.compactMap { $0["event"] } == ["enqueued", "started", "retrying", "queued", "started", "succeeded"])
            #expect(all[2]["attempt"] == "1")
            #expect(all[2]["error"] == "failing on purpose: attempt 1 of the first 1")
            #expect(all[3]["from"] == "retrying")
            #expect(all[4]["attempt"] == "2")
            #expect(all[5]["attempt"] == "2")
        }
    }

    /// Redis keeps what a script wrote before it failed, so the events of those writes must be in the
    /// stream too (the scripts gather a call's events and write them at its end, also on an error).
    @Test("an ack that fails half-way still records the events of the jobs it completed", arguments: [true, false])
    func eventsOfAFailedCall(functions: Bool) async throws {
        try await withBroker(configure: { $0.functions = functions }) { broker in
            _ = try await broker.enqueue(batch: (0..<2).map { _ in EnqueueRequest(type: "noop") })
            let claimed = try await claim(broker, worker: "w")
            #expect(claimed.count == 2)
            // The second job's hash is no longer a hash: the script's HMGET on it fails (WRONGTYPE).
            try await broker.pool.command("DEL", broker.keys.job(claimed[1].id))
            try await broker.pool.command("SET", broker.keys.job(claimed[1].id), "not a hash")
            await #expect(throws: (any Error).self) {
                try await acknowledge(broker, claimed.map { (job: $0, outcome: AttemptOutcome.success(result: "")) })
            }
            #expect(try await broker.job(claimed[0].id)?.state == .succeeded)
            // Its move out of running is counted too (the second job still counts as running).
            #expect(try await broker.queueCounts()["default"]?.running == 1)
            let first = try await events(broker, job: claimed[0].id)
            #expect(first.compactMap { $0["event"] } == ["enqueued", "started", "succeeded"])
        }
    }

    @Test("totals count each job once")
    func totals() async throws {
        try await withBroker { broker in
            let ids = try await broker.enqueue(batch: (0..<3).map { _ in EnqueueRequest(type: "noop") }).map(\.id)
            let claimed = try await claim(broker, worker: "w")
            #expect(claimed.count == 3)
            let outcomes = claimed.map { (job: $0, outcome: AttemptOutcome.success(result: "")) }
            #expect(try await acknowledge(broker, outcomes) == Dictionary(uniqueKeysWithValues: ids.map { ($0, "ok") }))
            // A repeated acknowledgement (a lost reply retried) answers ok and counts nothing again.
            #expect(try await acknowledge(broker, outcomes) == Dictionary(uniqueKeysWithValues: ids.map { ($0, "ok") }))
            let stats = try await broker.stats()
            #expect(stats.totals["succeeded"] == 3)
            #expect(stats.totals["enqueued"] == 3)
            #expect(stats.running == 0)
            #expect(try await events(broker).filter { $0["event"] == "succeeded" }.count == 3)

            _ = try await broker.enqueue(EnqueueRequest(type: "noop", queue: "other", delayMilliseconds: 60_000))
            let after = try await broker.stats()
            #expect(after.totals["succeeded"] == 3 && after.totals["enqueued"] == 4 && (after.totals["stalled"] ?? 0) == 0)
            #expect(after.delayed == 1)
            #expect(Set(after.queues.keys) == ["default", "other"])
        }
    }
}
