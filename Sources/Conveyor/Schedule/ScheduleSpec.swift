import Foundation

/// When a recurring job fires: a cron expression on a time zone's wall clock, or a fixed interval.
public enum ScheduleSpec: Sendable, Hashable, CustomStringConvertible {
    /// A cron expression evaluated in an IANA time zone.
    case cron(CronExpression, timeZone: TimeZone)
    /// Every `every` milliseconds: ticks at `start + k × every` for k ≥ 0, or at `k × every` after the
    /// Unix epoch when `start` is `nil`, so that every process computes the same ticks.
    case interval(every: Int, start: Date?)

    /// The shortest interval accepted, in milliseconds.
    public static let minimumIntervalMilliseconds = 1_000

    /// Parses `every 30s` / `every 5m` / `every 1h` (any duration ``DurationParser`` reads, 1 s at least)
    /// as an interval, and anything else as a cron expression in `timeZone`.
    public init(parsing text: String, timeZone: TimeZone = .gmt, start: Date? = nil) throws(ConveyorError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let words = trimmed.split(maxSplits: 1, whereSeparator: \.isWhitespace)
        if words.first?.lowercased() == "every" {
            guard words.count == 2 else {
                throw ConveyorError(.invalidArgument, "interval '\(text)' needs a duration (examples: every 30s, every 5m, every 1h)")
            }
            let milliseconds = try DurationParser.milliseconds(String(words[1]))
            guard milliseconds >= Self.minimumIntervalMilliseconds else {
                throw ConveyorError(.invalidArgument, "interval '\(text)' is shorter than 1s")
            }
            self = .interval(every: milliseconds, start: start)
        } else {
            self = .cron(try CronExpression(trimmed), timeZone: timeZone)
        }
    }

    /// Parses like ``init(parsing:timeZone:start:)`` with the time zone given by its IANA identifier
    /// (`Europe/Paris`); `nil` means UTC.
    public init(parsing text: String, timeZoneIdentifier: String?, start: Date? = nil) throws(ConveyorError) {
        var timeZone = TimeZone.gmt
        if let timeZoneIdentifier {
            guard let zone = TimeZone(identifier: timeZoneIdentifier) else {
                throw ConveyorError(
                    .invalidArgument, "unknown time zone '\(timeZoneIdentifier)' (expected an IANA name such as Europe/Paris)")
            }
            timeZone = zone
        }
        try self.init(parsing: text, timeZone: timeZone, start: start)
    }

    /// The first tick strictly after `date`, or `nil` when a cron expression has none within
    /// ``CronExpression/searchHorizonYears`` years.
    public func nextFire(after date: Date) -> Date? {
        switch self {
        case .cron(let expression, let timeZone):
            return expression.next(after: date, in: timeZone)
        case .interval(let every, let start):
            let anchor = Int(((start ?? Date(timeIntervalSince1970: 0)).timeIntervalSince1970 * 1_000).rounded())
            let now = (date.timeIntervalSince1970 * 1_000).rounded(.down)
            guard every > 0, abs(now) < 1e15 else { return nil }
            let elapsed = Int(now) - anchor
            var tick = elapsed < 0 && start != nil ? anchor : anchor + (LocalDateTime.floorDivide(elapsed, every) + 1) * every
            var fire = Date(timeIntervalSince1970: TimeInterval(tick) / 1_000)
            while fire <= date {  // guards against rounding of sub-millisecond dates
                tick += every
                fire = Date(timeIntervalSince1970: TimeInterval(tick) / 1_000)
            }
            return fire
        }
    }

    /// The next `count` ticks strictly after `date`, fewer if the schedule ends.
    public func nextFireTimes(after date: Date, count: Int) -> [Date] {
        var times: [Date] = []
        var cursor = date
        while times.count < count, let time = nextFire(after: cursor) {
            times.append(time)
            cursor = time
        }
        return times
    }

    /// `<expression> (<zone>)` or `every <n>ms`.
    public var description: String {
        switch self {
        case .cron(let expression, let timeZone): return "\(expression) (\(timeZone.identifier))"
        case .interval(let every, let start):
            return start.map { "every \(every)ms from \($0.formatted(.iso8601))" } ?? "every \(every)ms"
        }
    }
}
