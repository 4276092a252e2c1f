import Foundation

/// A cron schedule: `minute hour day-of-month month day-of-week`, with an optional leading seconds field.
///
/// Each field takes `*`, a value, a list `1,5`, a range `1-5`, a step `*/15`, `10-50/5` or `10/5`
/// (from 10 to the field's end), and for months and days of the week the names `JAN`...`DEC` and
/// `SUN`...`SAT` in any case. The day of week runs 0-7, where 0 and 7 are both Sunday. The macros
/// `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for
/// `0 0 1 1 *`, `0 0 1 * *`, `0 0 * * 0`, `0 0 * * *` and `0 * * * *`. Without a seconds field the
/// expression fires at second 0.
///
/// Days follow Vixie cron: when both the day of month and the day of week are restricted (neither
/// field starts with `*`), a day matches if either field matches; otherwise both must match. So
/// `0 0 13 * FRI` fires on every 13th and every Friday, while `0 0 */2 * FRI` fires on odd-numbered
/// days that are Fridays, as in Vixie cron.
///
/// Fire times are computed on the wall clock of an IANA time zone (UTC unless given), with this rule
/// for daylight-saving changes: a wall time that does not exist because the clock jumps forward
/// (02:30 on a day when 02:00 becomes 03:00) fires once, at the first instant after the gap (03:00
/// local); several matching wall times in the same gap fire once together, and never a second time
/// if the time just after the gap also matches. A wall time that occurs twice because the clock is
/// set back fires once, at its first occurrence; the repeated hour fires nothing, even for `* * * * *`.
///
/// ``next(after:in:)`` looks ahead ``searchHorizonYears`` years at most and returns `nil` beyond:
/// `0 0 30 2 *` never fires.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text the expression was parsed from.
    public let source: String
    let seconds: CronField
    let minutes: CronField
    let hours: CronField
    let daysOfMonth: CronField
    let months: CronField
    let daysOfWeek: CronField

    /// How far ``next(after:in:)`` looks: 8 years, the longest wait between two February 29ths
    /// (2096 to 2104).
    public static let searchHorizonYears = 8

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses an expression, throwing ``ConveyorError/Code/invalidArgument`` with the field's position and
    /// the reason when it is malformed.
    public init(_ text: String) throws(ConveyorError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var body = trimmed
        if trimmed.hasPrefix("@") {
            guard let expansion = Self.macros[trimmed.lowercased()] else {
                throw ConveyorError(
                    .invalidArgument,
                    "invalid cron expression '\(text)': unknown macro '\(trimmed)' "
                        + "(expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)")
            }
            body = expansion
        }
        let fields = body.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 5 || fields.count == 6 else {
            throw ConveyorError(.invalidArgument, "invalid cron expression '\(text)': expected 5 or 6 fields, got \(fields.count)")
        }
        var kinds: [CronField.Kind] = [.minute, .hour, .dayOfMonth, .month, .dayOfWeek]
        if fields.count == 6 { kinds.insert(.second, at: 0) }
        var parsed: [CronField] = []
        for (index, (field, kind)) in zip(fields, kinds).enumerated() {
            do {
                parsed.append(try CronField(parsing: field, as: kind))
            } catch {
                throw ConveyorError(
                    .invalidArgument, "invalid cron expression '\(text)': field \(index + 1) (\(kind.name)): \(error.reason)")
            }
        }
        if fields.count == 5 { parsed.insert(CronField(bits: 1, isStar: false), at: 0) }
        self.source = trimmed
        self.seconds = parsed[0]
        self.minutes = parsed[1]
        self.hours = parsed[2]
        self.daysOfMonth = parsed[3]
        self.months = parsed[4]
        self.daysOfWeek = parsed[5]
    }

    /// The expression as written.
    public var description: String { source }

    /// True when no date can ever match: the day of month is restricted (alone, or with a day of week
    /// under Vixie cron's "both must match" rule) to days that none of the allowed months has, as in
    /// `0 0 30 2 *` or `0 0 31 4,6 *`. (A date that exists falls on every weekday over the years.)
    public var neverFires: Bool {
        if !daysOfMonth.isStar && !daysOfWeek.isStar { return false }  // either field matching is enough
        for month in 1...12 where months.contains(month) {
            let length = month == 2 ? 29 : LocalDateTime.daysInMonth(year: 2001, month: month)
            if (1...length).contains(where: { daysOfMonth.contains($0) }) { return false }
        }
        return true
    }

    /// Whether the expression fires on a calendar day (Vixie cron's rule for the two day fields).
    func matchesDay(year: Int, month: Int, day: Int) -> Bool {
        let dayOfMonth = daysOfMonth.contains(day)
        let dayOfWeek = daysOfWeek.contains(LocalDateTime.weekday(year: year, month: month, day: day))
        if daysOfMonth.isStar || daysOfWeek.isStar {
            return dayOfMonth && dayOfWeek
        }
        return dayOfMonth || dayOfWeek
    }
}
