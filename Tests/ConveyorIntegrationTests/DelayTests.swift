import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Delays: scheduled jobs wait in the delayed set until a promoter moves them")
struct DelayTests {
    @Test("a delayed job is scheduled, not claimable before due, then promoted and run")
    func delayedJob() async throws {
        try await withBroker { broker in
            let far = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 60_000))
            let near = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"n":1}"#, delayMilliseconds: 2_000))
            #expect(far.state == .scheduled)
            #expect(near.state == .scheduled)
            #expect(try await claim(broker, worker: "w").isEmpty)
            let promoted = try await broker.promoteDue()
            #expect(promoted.promoted == 0)
            let next = try #require(promoted.nextDueMilliseconds)
            #expect(next > 0 && next <= 2_000)
            let stats = try await broker.stats()
            #expect(stats.delayed == 2)
            #expect(stats.queues["default"]?.normal == 0)

            try await withWorker(broker) { _ in
                let job = try await waitForState(broker, near.id, .succeeded, timeout: 10)
                let runAt = try #require(job.runAt)
                let createdAt = try #require(job.createdAt)
                #expect(runAt.timeIntervalSince(createdAt) * 1000 >= 1_999)
                #expect(try #require(job.startedAt) >= runAt)
                #expect(job.result == #"{"n":1}"#)
            }
            #expect(try await broker.job(far.id)?.state == .scheduled)
            let queued = try await events(broker, job: near.id).filter { $0["event"] == "queued" }
            #expect(queued.map { $0["from"] } == ["scheduled"])
        }
    }

    @Test("a runAt job is scheduled for that time and runs no sooner")
    func runAtJob() async throws {
        try await withBroker { broker in
            let runAt = Date().addingTimeInterval(2)
            let enqueued = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 10, runAt: runAt))
            #expect(enqueued.state == .scheduled)
            let scheduled = try #require(try await broker.job(enqueued.id))
            #expect(abs(try #require(scheduled.runAt).timeIntervalSince(runAt)) < 0.002)
            #expect(try await claim(broker, worker: "w").isEmpty)
            try await withWorker(broker) { _ in
                let job = try await waitForState(broker, enqueued.id, .succeeded, timeout: 5)
                #expect(try #require(job.startedAt).timeIntervalSince(runAt) >= -0.002)
            }
        }
    }

    @Test("a runAt in the past queues the job at once")
    func runAtInThePast() async throws {
        try await withBroker { broker in
            let enqueued = try await broker.enqueue(EnqueueRequest(type: "echo", runAt: Date().addingTimeInterval(-5)))
            #expect(enqueued.state == .queued)
            #expect(try await claim(broker, worker: "w").map(\.id) == [enqueued.id])
        }
    }

    @Test("a sleeping promoter wakes for a newly added earlier job")
    func promoterWakesForEarlierJob() async throws {
        try await withBroker { broker in
            _ = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 3_600_000))
            // A long maximum sleep: without the wake-up the promoter would not look again for 30 s.
            let promoter = Promoter(broker: broker, options: PromoterOptions(maxSleepMilliseconds: 30_000), logger: quietLogger)
            let worker = Worker(broker: broker, registry: testRegistry(), options: WorkerOptions(), logger: quietLogger)
            try await withServices([promoter, worker]) {
                // The far job's enqueue left a wake token; once the promoter took it, it sleeps toward the far job.
                try await eventually(timeout: 5) { try await broker.pool.command("LLEN", broker.keys.promoterWake).int == 0 }
                // Not a wait for a result: lets the loop settle into its long sleep, so only a wake-up can promote in time.
                try await Task.sleep(for: .milliseconds(100))
                let near = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 200))
                let job = try await waitForState(broker, near.id, .succeeded, timeout: 10)
                let late = try #require(job.startedAt).timeIntervalSince(try #require(job.runAt))
                #expect(late >= 0 && late < 3, "started \(late) s after due (without a wake-up: about 30 s)")
            }
        }
    }

    @Test("two promoters at once promote each job exactly once")
    func twoPromoters() async throws {
        try await withBroker { broker in
            let requests = (0..<300).map { index in EnqueueRequest(type: "noop", delayMilliseconds: 50 + (index % 30) * 10) }
            let ids = try await broker.enqueue(batch: requests).map(\.id)
            let count = ids.count
            try await withServices([Promoter(broker: broker, logger: quietLogger), Promoter(broker: broker, logger: quietLogger)]) {
                try await eventually(timeout: 5) { try await broker.stats().queues["default"]?.normal == count }
            }
            let promotions = Dictionary(
                try await events(broker).filter { $0["event"] == "queued" && $0["from"] == "scheduled" }.map { ($0["job"] ?? "", 1) },
                uniquingKeysWith: +)
            #expect(promotions.count == ids.count)
            #expect(promotions.values.allSatisfy { $0 == 1 })
            #expect(try await broker.stats().delayed == 0)
        }
    }
}
