import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Retries: a failed attempt waits out its backoff in the delayed set, then runs again")
struct RetryTests {
    /// Runs a `fail` job that fails its first `failures` attempts, until it succeeds; returns the
    /// job and the backoff of each retry (the `retrying` event's `run_at` minus its `ts`).
    private func runRetries(_ broker: Broker, failures: Int, policy: RetryPolicy) async throws -> (job: Job, delays: [Int]) {
        let enqueued = try await broker.enqueue(
            EnqueueRequest(type: "fail", payload: #"{"times":\#(failures)}"#, maxAttempts: failures + 1, retryPolicy: policy))
        // Generous: the whole suite runs beside it on two cores, and each attempt is a claim and an ack.
        let job = try await waitForState(broker, enqueued.id, .succeeded, timeout: 30)
        let retrying = try await events(broker, job: enqueued.id).filter { $0["event"] == "retrying" }
        #expect(retrying.map { $0["attempt"] } == (1...failures).map { String($0) })
        let delays = retrying.map { number($0, "run_at")! - number($0, "ts")! }
        #expect(job.attempts == failures + 1)
        // The hash keeps the due time of the last retry.
        #expect(job.runAt.map { Int(($0.timeIntervalSince1970 * 1000).rounded()) } == number(retrying.last!, "run_at"))
        return (job, delays)
    }

    @Test("fixed backoff waits the same time before every retry")
    func fixed() async throws {
        try await withBroker { broker in
            try await withWorker(broker) { _ in
                let (job, delays) = try await runRetries(broker, failures: 3, policy: .fixed(milliseconds: 40))
                #expect(delays == [40, 40, 40])
                #expect(job.lastError == "failing on purpose: attempt 3 of the first 3")
                let names = try await eventNames(broker, job: job.id)
                #expect(
                    names == [
                        "enqueued", "started", "retrying", "queued", "started", "retrying", "queued", "started", "retrying", "queued",
                        "started", "succeeded",
                    ])
                // Each retry started no sooner than its due time.
                let all = try await events(broker, job: job.id)
                for (index, event) in all.enumerated() where event["event"] == "retrying" {
                    let started = all[(index + 1)...].first { $0["event"] == "started" }!
                    #expect(number(started, "ts")! >= number(event, "run_at")!)
                }
            }
        }
    }

    @Test("exponential backoff doubles from its base up to its cap")
    func exponential() async throws {
        try await withBroker { broker in
            try await withWorker(broker) { _ in
                let (_, delays) = try await runRetries(broker, failures: 4, policy: .exponential(baseMilliseconds: 20, maxMilliseconds: 70))
                #expect(delays == [20, 40, 70, 70])
            }
        }
    }

    @Test("jitter keeps (1 - jitter) of the delay and draws the rest at random")
    func jitter() async throws {
        try await withBroker { broker in
            try await withWorker(broker) { _ in
                var samples: [Int] = []
                for _ in 0..<3 {
                    samples += try await runRetries(broker, failures: 4, policy: .fixed(milliseconds: 100, jitter: 0.5)).delays
                }
                #expect(samples.count == 12)
                #expect(samples.allSatisfy { (50...100).contains($0) }, "\(samples)")
                #expect(Set(samples).count > 1, "jitter drew the same delay every time: \(samples)")
                let (_, exponential) = try await runRetries(
                    broker, failures: 3, policy: .exponential(baseMilliseconds: 40, maxMilliseconds: 1_000, jitter: 1))
                for (index, delay) in exponential.enumerated() {
                    #expect((0...(40 << index)).contains(delay), "retry \(index + 1) waited \(delay) ms")
                }
            }
        }
    }

    @Test("no backoff retries at once")
    func none() async throws {
        try await withBroker { broker in
            try await withWorker(broker) { _ in
                let (_, delays) = try await runRetries(broker, failures: 2, policy: .none)
                #expect(delays == [0, 0])
            }
        }
    }

    @Test("a retrying job waits in the delayed set with its due time in the hash")
    func retryingState() async throws {
        try await withBroker { broker in
            let enqueued = try await broker.enqueue(
                EnqueueRequest(type: "fail", payload: #"{"times":1}"#, retryPolicy: .fixed(milliseconds: 60_000)))
            let claimed = try #require(try await claim(broker, worker: "w").first)
            let statuses = try await acknowledge(broker, [(claimed, .failure(error: "boom"))])
            #expect(statuses[enqueued.id] == "retrying")
            let job = try #require(try await broker.job(enqueued.id))
            #expect(job.state == .retrying)
            #expect(job.lastError == "boom")
            let retrying = try #require(try await events(broker, job: enqueued.id).last)
            #expect(retrying["event"] == "retrying")
            #expect(job.runAt.map { Int(($0.timeIntervalSince1970 * 1000).rounded()) } == number(retrying, "run_at"))
            #expect(number(retrying, "run_at")! - number(retrying, "ts")! == 60_000)
            let score = try await broker.pool.command("ZSCORE", broker.keys.delayed, enqueued.id).string.flatMap { Int($0) }
            #expect(score == number(retrying, "run_at"))
            #expect(try await claim(broker, worker: "w").isEmpty)
            let stats = try await broker.stats()
            #expect(stats.totals["failed"] == 1)
            #expect(stats.totals["retried"] == 1)
            #expect(stats.running == 0)
        }
    }
}
