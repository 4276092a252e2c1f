import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Timeouts: an attempt that runs past its timeout is cancelled and fails")
struct TimeoutTests {
    @Test("a sleep past its timeout fails with 'timed out' well before it would end, and dies after max_attempts")
    func timesOut() async throws {
        try await withBroker { broker in
            let start = Date()
            let enqueued = try await broker.enqueue(
                EnqueueRequest(
                    type: "sleep", payload: #"{"ms":5000}"#, maxAttempts: 2, retryPolicy: .fixed(milliseconds: 20),
                    timeoutMilliseconds: 200))
            try await withWorker(broker, options: WorkerOptions(concurrency: 1)) { _ in
                let job = try await waitForState(broker, enqueued.id, .dead, timeout: 5)
                #expect(Date().timeIntervalSince(start) < 4.5, "one attempt without the timeout alone would take 5 s")
                #expect(job.attempts == 2)
                #expect(job.lastError?.contains("timed out") == true, "\(job.lastError ?? "")")
            }
            let all = try await events(broker, job: enqueued.id)
            #expect(all.compactMap { $0["event"] } == ["enqueued", "started", "retrying", "queued", "started", "dead"])
            let retrying = try #require(all.first { $0["event"] == "retrying" })
            #expect(retrying["error"]?.contains("timed out") == true)
            let duration = try #require(number(retrying, "duration_ms"))
            #expect(duration >= 190 && duration < 1_500, "attempt took \(duration) ms")
        }
    }

    @Test("a timed-out attempt frees its slot and a later attempt can succeed")
    func retriesAfterTimeout() async throws {
        try await withBroker { broker in
            let slow = try await broker.enqueue(
                EnqueueRequest(type: "sleep", payload: #"{"ms":5000}"#, maxAttempts: 1, timeoutMilliseconds: 150))
            let quick = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":10}"#, timeoutMilliseconds: 2_000))
            try await withWorker(broker, options: WorkerOptions(concurrency: 1)) { _ in
                let dead = try await waitForState(broker, slow.id, .dead, timeout: 4)
                #expect(dead.lastError == "timed out after 150ms")
                try await waitForState(broker, quick.id, .succeeded, timeout: 4)
            }
            #expect(try await broker.stats().totals["failed"] == 1)
        }
    }
}
