import Conveyor
import RedisClient

extension ConveyorAPI {
    /// Appends the two figures alerts need to tell that a role is missing: `conveyor_workers_live`
    /// (workers whose heartbeat is recent) and `conveyor_promoter_overdue_seconds` (how long the
    /// oldest promoter duty, a due delayed job or an expired lease, has waited: near 0 while a
    /// promoter runs, growing without one). One pipeline of TIME and two ZRANGEs, plus the workers.
    func appendLivenessMetrics(to text: inout String) async throws {
        let live = try await broker.workers().count
        let replies = try await broker.pool.pipeline([
            ["TIME"], ["ZRANGE", broker.keys.delayed, 0, 0, "WITHSCORES"], ["ZRANGE", broker.keys.inflight, 0, 0, "WITHSCORES"],
        ])
        let time = replies[0].array ?? []
        let nowMilliseconds = (time.first?.int ?? 0) * 1_000 + (time.count > 1 ? (time[1].int ?? 0) / 1_000 : 0)
        var overdueMilliseconds = 0
        for reply in replies[1...] {
            guard let pair = reply.array, pair.count == 2, let score = pair[1].string.flatMap(Double.init) else { continue }
            overdueMilliseconds = max(overdueMilliseconds, nowMilliseconds - Int(score))
        }
        text += "# HELP conveyor_workers_live Workers whose heartbeat is recent.\n# TYPE conveyor_workers_live gauge\n"
        text += "conveyor_workers_live \(live)\n"
        text += "# HELP conveyor_promoter_overdue_seconds How long the oldest due delayed job or expired lease has waited for a promoter.\n"
        text += "# TYPE conveyor_promoter_overdue_seconds gauge\n"
        text += "conveyor_promoter_overdue_seconds \(Double(overdueMilliseconds) / 1_000)\n"
    }
}
