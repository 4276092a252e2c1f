import ArgumentParser
import Conveyor
import Foundation

extension BenchCommand {
    /// The cost of the per-queue counts with `countsJobs` delayed jobs waiting: the reads of
    /// `GET /v1/queues` (``Broker/stats()`` and ``Broker/queueCounts()``), median of 50, and the
    /// one-time rebuild of the counters from a scan that a namespace predating them pays once.
    func countsFigures(_ broker: Broker) async throws -> [(String, Double)] {
        let total = max(0, countsJobs)
        let request = EnqueueRequest(type: "noop", queue: "later", delayMilliseconds: 86_400_000, retryPolicy: .none)
        var left = total
        while left > 0 {
            let count = min(1_000, left)
            _ = try await broker.enqueue(batch: Array(repeating: request, count: count))
            left -= count
        }
        func median(_ body: () async throws -> Void) async throws -> Double {
            var times: [Double] = []
            for _ in 0..<50 {
                let start = ContinuousClock.now
                try await body()
                times.append(seconds(since: start) * 1000)
            }
            return times.sorted()[times.count / 2]
        }
        let counts = try await broker.queueCounts()
        guard counts["later"]?.delayed ?? 0 >= total else {
            throw ValidationError("the counters say \(counts["later"]?.delayed ?? 0) delayed jobs, expected \(total)")
        }
        let countsRead = try await median { _ = try await broker.queueCounts() }
        let queuesRead = try await median {
            _ = try await broker.stats()
            _ = try await broker.queueCounts()
        }
        let start = ContinuousClock.now
        try await broker.rebuildQueueCounts(force: true)
        let rebuild = seconds(since: start) * 1000
        return [
            ("queueCounts ms (\(total) delayed)", countsRead),
            ("GET /v1/queues reads ms (\(total) delayed)", queuesRead),
            ("counters rebuild once ms (\(total) delayed)", rebuild),
        ]
    }
}
