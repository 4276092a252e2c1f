import Foundation

/// A wall-clock date and time with no zone attached (proleptic Gregorian calendar, whole seconds).
///
/// Converted to and from "naive seconds": the seconds since 1970-01-01T00:00:00 as if the wall clock
/// were UTC. Pure arithmetic (Howard Hinnant's days-from-civil), so stepping through wall time never
/// depends on how a Calendar resolves a skipped or repeated hour.
struct LocalDateTime: Sendable, Hashable, Comparable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The wall time `naiveSeconds` seconds after 1970-01-01T00:00:00.
    init(naiveSeconds: Int) {
        let days = Self.floorDivide(naiveSeconds, 86_400)
        let secondOfDay = naiveSeconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        self.init(
            year: year, month: month, day: day, hour: secondOfDay / 3_600, minute: secondOfDay % 3_600 / 60, second: secondOfDay % 60)
    }

    /// Seconds since 1970-01-01T00:00:00 on a clock that never changes offset.
    var naiveSeconds: Int {
        Self.days(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
    }

    static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool {
        (lhs.year, lhs.month, lhs.day, lhs.hour, lhs.minute, lhs.second) < (rhs.year, rhs.month, rhs.day, rhs.hour, rhs.minute, rhs.second)
    }

    /// Days since 1970-01-01 of a civil date.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date `days` days after 1970-01-01.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 = Sunday ... 6 = Saturday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let weekday = (days(year: year, month: month, day: day) + 4) % 7  // 1970-01-01 was a Thursday
        return weekday < 0 ? weekday + 7 : weekday
    }

    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func floorDivide(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }
}

/// Maps between instants and wall times of one time zone, resolving skipped and repeated wall times
/// the way ``CronExpression`` documents.
struct ZoneClock: Sendable {
    let timeZone: TimeZone

    /// The zone's offset from UTC, in seconds, at an instant given in Unix seconds.
    func offset(at instant: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))
    }

    /// The wall time at an instant.
    func wallTime(at instant: Int) -> LocalDateTime {
        LocalDateTime(naiveSeconds: instant + offset(at: instant))
    }

    /// The instant a wall time fires at: its only occurrence; the first of two when the clock is set
    /// back; the first instant after the gap (the transition itself) when the clock jumps over it.
    func firstInstant(of wall: LocalDateTime) -> Int {
        let naive = wall.naiveSeconds
        // Offsets in force around this wall time; two of them when a transition is near.
        let offsets = Set([offset(at: naive - 86_400), offset(at: naive), offset(at: naive + 86_400)])
        let occurrences = offsets.map { naive - $0 }.filter { offset(at: $0) == naive - $0 }
        if let first = occurrences.min() { return first }
        // A gap: the wall clock jumps from below `naive` to above it at the transition.
        guard let smallest = offsets.min(), let largest = offsets.max(), smallest < largest else { return naive - offsets.first! }
        return Self.firstInstant(from: naive - largest, to: naive - smallest) { $0 + offset(at: $0) > naive }
    }

    /// The smallest instant in `low...high` for which `condition` holds, given that it holds at `high`
    /// and, once true, stays true up to `high`.
    static func firstInstant(from low: Int, to high: Int, where condition: (Int) -> Bool) -> Int {
        var low = low
        var high = high
        while low < high {
            let middle = low + (high - low) / 2
            if condition(middle) { high = middle } else { low = middle + 1 }
        }
        return high
    }
}
