import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Memory bounds: finished jobs expire, the event stream is capped")
struct MemoryBoundsTests {
    @Test("with keepFinished 100 ms a succeeded job leaves Redis soon after; a dead job stays")
    func keepFinishedShort() async throws {
        try await withBroker(configure: { $0.keepFinishedMilliseconds = 100 }) { broker in
            let dead = try await broker.enqueue(EnqueueRequest(type: "fail", payload: #"{"times":9}"#, maxAttempts: 1))
            let job = try await broker.enqueue(EnqueueRequest(type: "echo"))
            try await withWorker(broker) { _ in
                try await waitForState(broker, dead.id, .dead)
                try await eventually(timeout: 5) { try await eventNames(broker, job: job.id).last == "succeeded" }
                let ttl = try await broker.pool.command("PTTL", broker.keys.job(job.id)).int ?? -2
                #expect(ttl <= 100)
                try await eventually(timeout: 3, "the succeeded job did not expire") { try await broker.job(job.id) == nil }
            }
            // The succeeded job expired; the dead one, older, is still there with no expiry.
            #expect(try await broker.job(dead.id)?.state == .dead)
            #expect(try await broker.pool.command("PTTL", broker.keys.job(dead.id)).int == -1)
            #expect(try await broker.pool.command("EXISTS", broker.keys.lock(job.id)).int == 0)
        }
    }

    @Test("with keepFinished 0 a succeeded or cancelled job leaves Redis at once")
    func keepFinishedZero() async throws {
        try await withBroker(configure: { $0.keepFinishedMilliseconds = 0 }) { broker in
            let job = try await broker.enqueue(EnqueueRequest(type: "echo"))
            let claimed = try #require(try await claim(broker, worker: "w").first)
            #expect(try await acknowledge(broker, [(claimed, .success(result: "1"))]) == [job.id: "ok"])
            #expect(try await broker.job(job.id) == nil)
            #expect(try await eventNames(broker, job: job.id) == ["enqueued", "started", "succeeded"])
            let queued = try await broker.enqueue(EnqueueRequest(type: "echo"))
            #expect(try await broker.cancel(queued.id).outcome == .cancelled)
            #expect(try await broker.job(queued.id) == nil)
            #expect(try await broker.stats().totals["succeeded"] == 1)
        }
    }

    @Test("a small eventsMaxLength keeps the stream near that bound (trimmed by the promoter, no history writer)")
    func eventsCapped() async throws {
        try await withBroker(configure: { $0.eventsMaxLength = 1_000 }) { broker in
            // One stream entry per script call, so one enqueue per entry.
            for _ in 0..<5_000 { _ = try await broker.enqueue(EnqueueRequest(type: "noop")) }
            try await broker.trimEvents()
            let length = try #require(try await broker.pool.command("XLEN", broker.keys.events).int)
            #expect(length >= 1_000 && length < 2_000, "XLEN \(length)")
            #expect(try await broker.stats().totals["enqueued"] == 5_000)
        }
    }

    @Test("past the hard cap every script trims the stream, with no promoter running")
    func hardCap() async throws {
        try await withBroker(configure: {
            $0.eventsMaxLength = 1_000; $0.eventsHardMaxLength = 2_000
        }) { broker in
            for _ in 0..<5_000 { _ = try await broker.enqueue(EnqueueRequest(type: "noop")) }
            let length = try #require(try await broker.pool.command("XLEN", broker.keys.events).int)
            #expect(length >= 2_000 && length < 2_500, "XLEN \(length)")
        }
    }
}
