import Foundation

extension ScheduleSpec {
    /// The ticks missed between `lastFired` (exclusive) and `now` (inclusive), as `policy` keeps them:
    /// none for ``MisfirePolicy/skip``, the latest for ``MisfirePolicy/one``, the latest `limit` for
    /// ``MisfirePolicy/all``. The cost grows with the ticks returned, not with the length of the pause.
    public func misfires(lastFired: Date, now: Date, policy: MisfirePolicy, limit: Int = 100) -> MisfirePlan {
        let next = nextFire(after: now)
        guard now > lastFired, let firstMissed = nextFire(after: lastFired), firstMissed <= now else {
            return MisfirePlan(missed: [], dropped: false, next: next)
        }
        let keep: Int
        switch policy {
        case .skip: keep = 0
        case .one: keep = 1
        case .all: keep = max(0, limit)
        }
        guard keep > 0 else { return MisfirePlan(missed: [], dropped: true, next: next) }
        let missed = latestTicks(after: lastFired, upTo: now, count: keep)
        return MisfirePlan(missed: missed, dropped: missed.first != firstMissed, next: next)
    }

    /// The latest `count` ticks in `(lower, upper]`, oldest first: looks back over a window that
    /// doubles until it holds `count` ticks or reaches `lower`.
    func latestTicks(after lower: Date, upTo upper: Date, count: Int) -> [Date] {
        var window: TimeInterval = 1
        while true {
            let from = max(lower, upper.addingTimeInterval(-window))
            var ticks: [Date] = []
            var cursor = from
            while let tick = nextFire(after: cursor), tick <= upper {
                ticks.append(tick)
                if ticks.count > count { ticks.removeFirst() }
                cursor = tick
            }
            if ticks.count == count || from == lower { return ticks }
            window *= 2
        }
    }
}
