import RedisClient

extension Broker {
    /// Delayed, running and dead jobs per queue, read from the three sorted sets and each member's
    /// `queue` field in pipelined batches of 1,000 (Redis is never blocked for long; the cost grows
    /// with the number of jobs in those sets).
    public func queueCounts() async throws -> [String: QueueCounts] {
        var counts: [String: QueueCounts] = [:]
        let sets: [(String, WritableKeyPath<QueueCounts, Int>)] = [
            (keys.delayed, \.delayed), (keys.inflight, \.running), (keys.dead, \.dead),
        ]
        for (key, field) in sets {
            var start = 0
            while true {
                let ids = try await pool.command("ZRANGE", key, start, start + 999).array?.compactMap(\.string) ?? []
                if ids.isEmpty { break }
                let queues = try await pool.pipeline(ids.map { ["HGET", keys.job($0), "queue"] })
                for queue in queues.compactMap(\.string) { counts[queue, default: QueueCounts()][keyPath: field] += 1 }
                if ids.count < 1_000 { break }
                start += ids.count
            }
        }
        return counts
    }
}
