import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// The job hash, the job's list and delayed-set membership, and its events: everything an update
/// could touch, to check that a refused one touched nothing.
private func footprint(_ broker: Broker, _ id: String) async throws -> [String] {
    let hash = try await broker.pool.command("HGETALL", broker.keys.job(id)).fieldMap ?? [:]
    var lists: [String] = []
    for priority in JobPriority.allCases {
        let members = try await broker.pool.command("LRANGE", broker.keys.list("default", priority), 0, -1).array ?? []
        lists.append("\(priority):\(members.compactMap(\.string).filter { $0 == id }.count)")
    }
    let delayed = try await broker.pool.command("ZSCORE", broker.keys.delayed, id).string ?? "-"
    let names = try await eventNames(broker, job: id)
    return hash.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + lists + ["delayed=\(delayed)"] + names
}

/// The list (by priority) holding `id` in the default queue, if any.
private func listHolding(_ broker: Broker, _ id: String) async throws -> JobPriority? {
    for priority in JobPriority.allCases {
        let members = try await broker.pool.command("LRANGE", broker.keys.list("default", priority), 0, -1).array ?? []
        if members.contains(where: { $0.string == id }) { return priority }
    }
    return nil
}

@Suite("Update: changing a job that has not started")
struct UpdateTests {
    @Test("every field of a queued job; the job runs with the new values and an updated event lists them")
    func everyField() async throws {
        try await withBroker { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"v":0}"#, priority: .low)).id
            let policy = RetryPolicy.exponential(baseMilliseconds: 100, maxMilliseconds: 9_000, jitter: 0.25)
            let outcome = try await broker.update(
                id: id,
                JobUpdate(priority: .high, payload: #"{"v":1}"#, maxAttempts: 7, retryPolicy: policy, timeoutMilliseconds: 4_000))
            #expect(
                outcome
                    == .updated(
                        state: .queued, previous: .queued, changed: ["priority", "payload", "max_attempts", "backoff", "timeout_ms"]))
            let job = try #require(try await broker.job(id))
            #expect(job.priority == .high)
            #expect(job.payload == #"{"v":1}"#)
            #expect(job.maxAttempts == 7)
            #expect(job.retryPolicy == policy)
            #expect(job.timeoutMilliseconds == 4_000)
            #expect(try await listHolding(broker, id) == .high)
            let event = try #require(try await events(broker, job: id).last)
            #expect(event["event"] == "updated")
            #expect(event["changed"] == "priority,payload,max_attempts,backoff,timeout_ms")
            #expect(event["priority"] == "high")
            #expect(event["payload"] == #"{"v":1}"#)
            #expect(event["max_attempts"] == "7")
            #expect(event["backoff"] == policy.encoded)
            #expect(event["timeout_ms"] == "4000")
            #expect(event["state"] == nil)

            // The same values again: nothing changes, no event.
            let again = try await broker.update(id: id, JobUpdate(priority: .high, payload: #"{"v":1}"#))
            #expect(again == .updated(state: .queued, previous: .queued, changed: []))
            #expect(try await eventNames(broker, job: id) == ["enqueued", "updated"])

            // Each field alone.
            #expect(
                try await broker.update(id: id, JobUpdate(priority: .normal))
                    == .updated(state: .queued, previous: .queued, changed: ["priority"]))
            #expect(try await listHolding(broker, id) == .normal)
            #expect(
                try await broker.update(id: id, JobUpdate(payload: "[2]"))
                    == .updated(state: .queued, previous: .queued, changed: ["payload"]))
            #expect(
                try await broker.update(id: id, JobUpdate(maxAttempts: 2))
                    == .updated(state: .queued, previous: .queued, changed: ["max_attempts"]))
            #expect(
                try await broker.update(id: id, JobUpdate(retryPolicy: RetryPolicy.none))
                    == .updated(state: .queued, previous: .queued, changed: ["backoff"]))
            #expect(
                try await broker.update(id: id, JobUpdate(timeoutMilliseconds: 0))
                    == .updated(state: .queued, previous: .queued, changed: ["timeout_ms"]))

            let claimed = try #require(try await claim(broker, worker: "w").first)
            #expect(claimed.id == id)
            #expect(claimed.payload == "[2]")
            #expect(claimed.maxAttempts == 2)
            #expect(claimed.timeoutMilliseconds == 0)
            #expect(claimed.priority == .normal)
            #expect(try await broker.queueCounts() == (try await queueCountsByScan(broker)))
        }
    }

    @Test("a run time moves a job: queued to scheduled in the future, scheduled and retrying to queued now")
    func runTime() async throws {
        try await withBroker { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            let future = Date().addingTimeInterval(3_600)
            let later = try await broker.update(id: id, JobUpdate(runAt: future))
            #expect(later == .updated(state: .scheduled, previous: .queued, changed: ["run_at"]))
            #expect(try await listHolding(broker, id) == nil)
            let score = try await broker.pool.command("ZSCORE", broker.keys.delayed, id).string.flatMap(Double.init)
            #expect(score.map(Int.init) == Int((future.timeIntervalSince1970 * 1000).rounded()))
            #expect(try await broker.queueCounts()["default"] == QueueCounts(delayed: 1))
            #expect(try await events(broker, job: id).last?["state"] == "scheduled")
            #expect(try await events(broker, job: id).last?["from"] == "queued")

            // Scheduled, a new future time: stays scheduled with the new due time.
            #expect(
                try await broker.update(id: id, JobUpdate(delayMilliseconds: 7_200_000))
                    == .updated(state: .scheduled, previous: .scheduled, changed: ["run_at"]))
            let job = try #require(try await broker.job(id))
            #expect(job.state == .scheduled)
            #expect((job.runAt?.timeIntervalSinceNow ?? 0) > 7_100)

            // Scheduled, now: queued at once, with a new priority, workers woken.
            try await broker.pool.command("DEL", broker.keys.wake("default"))
            let now = try await broker.update(id: id, JobUpdate(priority: .high, delayMilliseconds: 0))
            #expect(now == .updated(state: .queued, previous: .scheduled, changed: ["priority", "run_at"]))
            #expect(try await listHolding(broker, id) == .high)
            #expect(try await broker.pool.command("ZSCORE", broker.keys.delayed, id).string == nil)
            #expect(try await broker.pool.command("LLEN", broker.keys.wake("default")).int == 1)
            #expect(try await broker.queueCounts()["default"] == nil)

            // Queued, a time in the past: nothing to move.
            #expect(
                try await broker.update(id: id, JobUpdate(runAt: Date(timeIntervalSince1970: 0)))
                    == .updated(state: .queued, previous: .queued, changed: []))

            // Retrying: a failed attempt waiting out an hour of backoff, then updated to run now.
            let claimed = try #require(try await claim(broker, worker: "w").first)
            #expect(try await broker.update(id: id, JobUpdate(payload: "1")) == .refused(state: .running))
            #expect(try await acknowledge(broker, [(claimed, .failure(error: "boom"))]) == [id: "retrying"])
            let retrying = try await broker.enqueue(
                EnqueueRequest(type: "echo", maxAttempts: 3, retryPolicy: .fixed(milliseconds: 3_600_000))
            ).id
            let attempt = try #require(try await claim(broker, worker: "w").first)
            #expect(attempt.id == retrying)
            #expect(try await acknowledge(broker, [(attempt, .failure(error: "boom"))]) == [retrying: "retrying"])
            #expect(
                try await broker.update(id: retrying, JobUpdate(payload: #"{"fixed":true}"#))
                    == .updated(state: .retrying, previous: .retrying, changed: ["payload"]))
            #expect(try await broker.queueCounts()["default"] == QueueCounts(delayed: 2))
            #expect(
                try await broker.update(id: retrying, JobUpdate(delayMilliseconds: 0))
                    == .updated(state: .queued, previous: .retrying, changed: ["run_at"]))
            let second = try #require(try await claim(broker, worker: "w").first)
            #expect(second.id == retrying)
            #expect(second.attempt == 2)
            #expect(second.payload == #"{"fixed":true}"#)
            #expect(try await broker.queueCounts() == (try await queueCountsByScan(broker)))
        }
    }

    @Test("running, succeeded, dead and cancelled jobs are refused with their state and left exactly as they were")
    func refusedStates() async throws {
        try await withBroker { broker in
            let everything = JobUpdate(priority: .high, delayMilliseconds: 60_000, payload: "[1]", maxAttempts: 9, timeoutMilliseconds: 5)
            let running = try await broker.enqueue(EnqueueRequest(type: "echo", maxAttempts: 1)).id
            _ = try #require(try await claim(broker, worker: "w").first)
            let succeeded = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            let done = try #require(try await claim(broker, worker: "w").first)
            _ = try await acknowledge(broker, [(done, .success(result: "1"))])
            let dead = try await broker.enqueue(EnqueueRequest(type: "echo", maxAttempts: 1)).id
            let dying = try #require(try await claim(broker, worker: "w").first)
            _ = try await acknowledge(broker, [(dying, .failure(error: "no"))])
            let cancelled = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 60_000)).id
            _ = try await broker.cancel(cancelled)
            let counts = try await broker.queueCounts()
            for (id, state) in [(running, JobState.running), (succeeded, .succeeded), (dead, .dead), (cancelled, .cancelled)] {
                let before = try await footprint(broker, id)
                #expect(try await broker.update(id: id, everything) == .refused(state: state))
                #expect(try await footprint(broker, id) == before, "\(state)")
            }
            #expect(try await broker.queueCounts() == counts)
            #expect(try await broker.update(id: "no-such-job", everything) == .notFound)
            #expect(try await broker.update(id: "bad id with spaces", everything) == .notFound)
        }
    }

    @Test("bad input is rejected before anything is sent")
    func badInput() async throws {
        try await withBroker { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            let before = try await footprint(broker, id)
            let bad: [JobUpdate] = [
                JobUpdate(), JobUpdate(payload: "{nope"), JobUpdate(payload: ""), JobUpdate(maxAttempts: 0),
                JobUpdate(maxAttempts: 10_001), JobUpdate(delayMilliseconds: -1), JobUpdate(delayMilliseconds: 1, runAt: Date()),
                JobUpdate(runAt: Date(timeIntervalSince1970: 253_402_300_800)), JobUpdate(retryPolicy: .fixed(milliseconds: -5)),
                JobUpdate(timeoutMilliseconds: -1), JobUpdate(payload: "\"" + String(repeating: "x", count: 1 << 20) + "\""),
            ]
            for update in bad {
                await #expect(throws: ConveyorError.self) { try await broker.update(id: id, update) }
            }
            #expect(try await footprint(broker, id) == before)
        }
    }

    @Test("racing a worker's claim: the job runs with all the new values, or the update is refused as running")
    func raceWithClaim() async throws {
        try await withBroker { broker in
            var applied = 0
            var refused = 0
            for round in 0..<300 {
                let id = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"v":0}"#, priority: .low, maxAttempts: 3)).id
                async let claimedJobs = claim(broker, worker: "w\(round)", max: 1)
                async let updateOutcome = broker.update(
                    id: id, JobUpdate(priority: .high, payload: #"{"v":1}"#, maxAttempts: 7, timeoutMilliseconds: 1_234))
                let (jobs, outcome) = try await (claimedJobs, updateOutcome)
                // A claim that ran first took the job; one that ran after takes it from the high list.
                var job = jobs.first
                if job == nil { job = try await claim(broker, worker: "w\(round)", max: 1).first }
                let claimed = try #require(job)
                #expect(claimed.id == id)
                switch outcome {
                case .updated(let state, let previous, let changed):
                    applied += 1
                    #expect(state == .queued && previous == .queued && changed.count == 4)
                    #expect(claimed.payload == #"{"v":1}"# && claimed.maxAttempts == 7 && claimed.timeoutMilliseconds == 1_234)
                    #expect(claimed.priority == .high)
                case .refused(let state):
                    refused += 1
                    #expect(state == .running)
                    #expect(claimed.payload == #"{"v":0}"# && claimed.maxAttempts == 3 && claimed.timeoutMilliseconds == 1_800_000)
                    #expect(claimed.priority == .low)
                case .notFound:
                    Issue.record("round \(round): not found")
                }
                let stored = try #require(try await broker.job(id))
                #expect(stored.payload == claimed.payload && stored.maxAttempts == claimed.maxAttempts)
                _ = try await acknowledge(broker, [(claimed, .success(result: ""))])
            }
            #expect(applied + refused == 300)
            #expect(try await broker.queueCounts() == (try await queueCountsByScan(broker)))
        }
    }

    @Test("a worker runs an updated job with the new payload; a promoter runs a job moved to later")
    func endToEnd() async throws {
        try await withBroker { broker in
            let paused = try await broker.pause(queue: "default")
            #expect(paused)
            let id = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"v":0}"#)).id
            _ = try await broker.update(id: id, JobUpdate(payload: #"{"v":1}"#))
            let soon = try await broker.enqueue(EnqueueRequest(type: "echo", payload: "1", delayMilliseconds: 3_600_000)).id
            _ = try await broker.update(id: soon, JobUpdate(delayMilliseconds: 100))
            try await broker.resume(queue: "default")
            try await withWorker(broker) { _ in
                let job = try await waitForState(broker, id, .succeeded)
                #expect(job.result == #"{"v":1}"#)
                try await waitForState(broker, soon, .succeeded)
            }
        }
    }
}
