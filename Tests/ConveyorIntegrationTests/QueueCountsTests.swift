import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// A small deterministic generator (SplitMix64), so a failing mix can be replayed from its seed.
struct MixGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Queue counts: per-queue counters kept by the scripts match a full scan")
struct QueueCountsTests {
    @Test("after a random mix of every operation (updates too), queueCounts() equals a scan of every job", arguments: [1, 2, 3])
    func randomMix(seed: UInt64) async throws {
        try await withBroker(configure: {
            $0.deadMax = 1; $0.maxCrashes = 2
        }) { broker in
            var random = MixGenerator(state: seed)
            let queues = ["qa", "qb", "qc"]
            var ids: [String] = []
            var held: [ClaimedJob] = []
            try await broker.upsertSchedule(
                Schedule(name: "tick", expression: "every 1h", job: EnqueueRequest(type: "echo", queue: "qb", maxAttempts: 2)))
            func enqueue(delay: Int?) async throws {
                let count = Int.random(in: 1...3, using: &random)
                let requests = (0..<count).map { _ in
                    EnqueueRequest(
                        type: "echo", queue: queues.randomElement(using: &random)!,
                        priority: JobPriority.allCases.randomElement(using: &random)!, delayMilliseconds: delay,
                        maxAttempts: Int.random(in: 1...3, using: &random),
                        retryPolicy: Bool.random(using: &random) ? .none : .fixed(milliseconds: 1))
                }
                ids += try await broker.enqueue(batch: requests).map(\.id)
            }
            for step in 1...400 {
                switch Int.random(in: 0..<17, using: &random) {
                case 0, 1: try await enqueue(delay: nil)
                case 2: try await enqueue(delay: Bool.random(using: &random) ? 1 : 3_600_000)
                case 3, 4:
                    let lease = Int.random(in: 0..<4, using: &random) == 0 ? 1 : 10_000
                    held += try await claim(
                        broker, worker: "w\(step % 3)", leaseMilliseconds: lease, max: Int.random(in: 1...3, using: &random),
                        queues: queues.shuffled(using: &random))
                case 5, 6:
                    if !held.isEmpty {
                        let job = held.remove(at: Int.random(in: 0..<held.count, using: &random))
                        _ = try await acknowledge(broker, [(job, .success(result: ""))])
                    }
                case 7, 8:
                    if !held.isEmpty {
                        let job = held.remove(at: Int.random(in: 0..<held.count, using: &random))
                        _ = try await acknowledge(broker, [(job, .failure(error: "no"))])
                    }
                case 9: _ = try await broker.promoteDue()
                case 10: _ = try await broker.requeueStalled()
                case 11:
                    if let id = ids.randomElement(using: &random) { _ = try await broker.cancel(id) }
                case 12 where Bool.random(using: &random):
                    let dead = try await broker.deadJobs(limit: 3).map(\.id)
                    let cancelled = ids.randomElement(using: &random).map { [$0] } ?? []
                    _ = try await broker.retry(ids: dead.prefix(Int.random(in: 0...2, using: &random)) + cancelled)
                case 12:
                    if let id = try await broker.deadJobs(limit: 3).randomElement(using: &random)?.id {
                        _ = try await broker.deleteDead(ids: [id])
                    }
                case 13:
                    // Fails every held job at once: several deaths in one call trim the dead-letter cap.
                    _ = try await acknowledge(broker, held.map { ($0, .failure(error: "all")) })
                    held.removeAll()
                case 14:
                    let queue = queues.randomElement(using: &random)!
                    if Bool.random(using: &random) { try await broker.pause(queue: queue) } else { try await broker.resume(queue: queue) }
                case 16:
                    if let id = ids.randomElement(using: &random) {
                        let delay = [nil, 0, 1, 3_600_000].randomElement(using: &random)!
                        let priority = Bool.random(using: &random) ? JobPriority.allCases.randomElement(using: &random) : nil
                        _ = try await broker.update(id: id, JobUpdate(priority: priority, delayMilliseconds: delay, payload: "[\(step)]"))
                    }
                default:
                    if Bool.random(using: &random) {
                        _ = try await broker.runSchedule("tick")
                    } else if !held.isEmpty {
                        let job = held.remove(at: 0)
                        _ = try await broker.pool.withConnection { connection in
                            try broker.requeue(on: connection, worker: nil, held: [(job.id, job.token)])
                        }
                    }
                }
                if step % 20 == 0 {
                    let scanned = try await queueCountsByScan(broker)
                    #expect(try await broker.queueCounts() == scanned, "seed \(seed), step \(step)")
                }
            }
            let scanned = try await queueCountsByScan(broker)
            #expect(try await broker.queueCounts() == scanned)
            // The mix went through every path: retries, deaths, quarantines, stalls, cancels, cap trimming.
            let totals = try await broker.stats().totals
            for name in ["retried", "dead", "stalled", "cancelled", "succeeded"] { #expect((totals[name] ?? 0) > 0, "\(name)") }
            let names = Set(try await events(broker).compactMap { $0["event"] })
            #expect(names.isSuperset(of: ["dropped", "deleted", "queued", "requeued", "paused", "resumed", "updated"]), "\(names)")
            // The counters rebuilt from the sets (as for a namespace that predates them) agree too.
            try await broker.pool.command("DEL", broker.keys.counts)
            #expect(try await broker.queueCounts() == scanned)
            #expect(try await broker.rebuildQueueCounts(force: false) == nil)
            #expect(try await broker.rebuildQueueCounts(force: true) != nil)
            #expect(try await broker.queueCounts() == scanned)
        }
    }

    @Test("a rebuild that meets another script past Redis's busy threshold waits for it instead of failing")
    func rebuildWaitsOutBusy() async throws {
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        try await withBroker(redis: redis) { broker in
            _ = try await broker.enqueue(batch: (0..<3).map { _ in EnqueueRequest(type: "echo", delayMilliseconds: 3_600_000) })
            try await broker.pool.command("CONFIG", "SET", "lua-time-limit", 100)
            try await broker.pool.command("DEL", broker.keys.counts)
            // A script that keeps Redis busy for 1 s (as another process's long rebuild would).
            let busy = Task {
                try await broker.pool.command(
                    "EVAL",
                    "local function us() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end "
                        + "local s = us() while us() - s < 1000000 do end return 1", 0)
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await broker.rebuildQueueCounts(force: false) == 3)
            _ = try await busy.value
            #expect(try await broker.queueCounts() == ["default": QueueCounts(delayed: 3)])
        }
    }

    @Test("a namespace without counters has them built once from its jobs at the first read")
    func buildsOnce() async throws {
        try await withBroker { broker in
            _ = try await broker.enqueue(
                batch: (0..<5).map { _ in EnqueueRequest(type: "echo", queue: "later", delayMilliseconds: 3_600_000) })
            let claimed = try await claim(broker, worker: "w", max: 1)
            #expect(claimed.isEmpty)
            _ = try await broker.enqueue(EnqueueRequest(type: "echo"))
            _ = try await claim(broker, worker: "w", max: 1)
            // As if written by a version without counters: no hash at all.
            try await broker.pool.command("DEL", broker.keys.counts)
            let counts = try await broker.queueCounts()
            #expect(
                counts == ["later": QueueCounts(delayed: 5, running: 0, dead: 0), "default": QueueCounts(delayed: 0, running: 1, dead: 0)])
            #expect(try await broker.pool.command("HGET", broker.keys.counts, "ready").string == "1")
            #expect(try await broker.rebuildQueueCounts(force: false) == nil)
        }
    }
}
