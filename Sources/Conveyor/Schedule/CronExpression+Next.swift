import Foundation

extension CronExpression {
    /// The first fire time strictly after `date`, on the wall clock of `timeZone`, or `nil` when
    /// there is none within ``searchHorizonYears`` years. See ``CronExpression`` for the
    /// daylight-saving rule. Fire times are whole seconds.
    public func next(after date: Date, in timeZone: TimeZone = .gmt) -> Date? {
        let time = date.timeIntervalSince1970.rounded(.down)
        guard abs(time) < 1e12 else { return nil }
        let after = Int(time)
        let clock = ZoneClock(timeZone: timeZone)
        var start = LocalDateTime(naiveSeconds: clock.wallTime(at: after).naiveSeconds + 1)
        let lastYear = start.year + Self.searchHorizonYears
        while let wall = firstMatch(notBefore: start, lastYear: lastYear) {
            let instant = clock.firstInstant(of: wall)
            if instant > after { return Date(timeIntervalSince1970: TimeInterval(instant)) }
            // `after` lies in the second pass of a repeated hour and `wall` fired in the first pass:
            // resume at the first wall time past the repeat.
            var resume = wall.naiveSeconds + 1
            let repeated = clock.offset(at: instant) - clock.offset(at: after)
            if repeated > 0 {
                let newOffset = clock.offset(at: after)
                let transition = ZoneClock.firstInstant(from: after - repeated, to: after) { clock.offset(at: $0) == newOffset }
                resume = max(resume, transition + repeated + newOffset)
            }
            start = LocalDateTime(naiveSeconds: resume)
        }
        return nil
    }

    /// The next `count` fire times strictly after `date`, fewer if the schedule ends (see ``next(after:in:)``).
    public func nextFireTimes(after date: Date, count: Int, in timeZone: TimeZone = .gmt) -> [Date] {
        var times: [Date] = []
        var cursor = date
        while times.count < count, let time = next(after: cursor, in: timeZone) {
            times.append(time)
            cursor = time
        }
        return times
    }

    /// The first wall time at or after `start` that matches every field, jumping field by field.
    func firstMatch(notBefore start: LocalDateTime, lastYear: Int) -> LocalDateTime? {
        var (year, month, day, hour, minute, second) = (start.year, start.month, start.day, start.hour, start.minute, start.second)
        while year <= lastYear {
            guard let nextMonth = months.next(from: month) else {
                (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0)
                continue
            }
            if nextMonth != month { (month, day, hour, minute, second) = (nextMonth, 1, 0, 0, 0) }
            let length = LocalDateTime.daysInMonth(year: year, month: month)
            while day <= length && !matchesDay(year: year, month: month, day: day) {
                (day, hour, minute, second) = (day + 1, 0, 0, 0)
            }
            guard day <= length else {
                (month, day, hour, minute, second) = (month + 1, 1, 0, 0, 0)
                continue
            }
            guard let nextHour = hours.next(from: hour) else {
                (day, hour, minute, second) = (day + 1, 0, 0, 0)
                continue
            }
            if nextHour != hour { (hour, minute, second) = (nextHour, 0, 0) }
            guard let nextMinute = minutes.next(from: minute) else {
                (hour, minute, second) = (hour + 1, 0, 0)
                continue
            }
            if nextMinute != minute { (minute, second) = (nextMinute, 0) }
            guard let nextSecond = seconds.next(from: second) else {
                (minute, second) = (minute + 1, 0)
                continue
            }
            return LocalDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: nextSecond)
        }
        return nil
    }
}
