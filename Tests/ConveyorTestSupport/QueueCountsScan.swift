import Conveyor
import RedisClient

/// Delayed (scheduled or retrying), running and dead jobs per queue, counted the slow way: every job
/// hash of the namespace (SCAN), by its state. The reference the script-kept counters are checked against.
public func queueCountsByScan(_ broker: Broker) async throws -> [String: QueueCounts] {
    var counts: [String: QueueCounts] = [:]
    var cursor = "0"
    repeat {
        let reply = try await broker.pool.command("SCAN", cursor, "MATCH", broker.keys.prefix + "job:*", "COUNT", 1_000)
        let parts = reply.array ?? []
        cursor = parts.first?.string ?? "0"
        let keys = parts.count > 1 ? parts[1].array?.compactMap(\.string) ?? [] : []
        if keys.isEmpty { continue }
        let rows = try await broker.pool.pipeline(keys.map { ["HMGET", $0, "state", "queue"] })
        for row in rows {
            let fields = row.array ?? []
            guard fields.count == 2, let state = fields[0].string, let queue = fields[1].string else { continue }
            switch state {
            case "scheduled", "retrying": counts[queue, default: QueueCounts()].delayed += 1
            case "running": counts[queue, default: QueueCounts()].running += 1
            case "dead": counts[queue, default: QueueCounts()].dead += 1
            default: break
            }
        }
    } while cursor != "0"
    return counts
}
