import Conveyor
import Foundation
import Testing

/// A fixed instant from an ISO 8601 string with an offset (`2026-03-29T03:00:00+02:00`).
private func instant(_ text: String) -> Date {
    try! Date(text, strategy: .iso8601)
}

private func zone(_ identifier: String) -> TimeZone {
    TimeZone(identifier: identifier)!
}

/// An expression, a time zone, a start and the fire times expected strictly after it.
struct CronCase: Sendable, CustomTestStringConvertible {
    let expression: String
    let timeZone: String
    let start: String
    let expected: [String]

    init(_ expression: String, _ timeZone: String = "UTC", after start: String, _ expected: [String]) {
        self.expression = expression
        self.timeZone = timeZone
        self.start = start
        self.expected = expected
    }

    var testDescription: String { "'\(expression)' in \(timeZone) after \(start)" }
}

@Suite("Cron and interval schedules")
struct CronTests {
    static let syntax: [CronCase] = [
        CronCase(
            "*/15 * * * *", after: "2026-01-01T00:07:00Z",
            ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"]),
        CronCase("* * * * *", after: "2026-01-01T23:59:30Z", ["2026-01-02T00:00:00Z", "2026-01-02T00:01:00Z", "2026-01-02T00:02:00Z"]),
        CronCase(
            "1,5 * * * *", after: "2026-01-01T00:01:00Z",
            ["2026-01-01T00:05:00Z", "2026-01-01T01:01:00Z", "2026-01-01T01:05:00Z", "2026-01-01T02:01:00Z"]),
        CronCase(
            "0 1-3 * * *", after: "2026-01-01T02:30:00Z",
            ["2026-01-01T03:00:00Z", "2026-01-02T01:00:00Z", "2026-01-02T02:00:00Z", "2026-01-02T03:00:00Z"]),
        CronCase(
            "10-50/20 * * * *", after: "2026-01-01T00:00:00Z",
            ["2026-01-01T00:10:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:50:00Z", "2026-01-01T01:10:00Z"]),
        CronCase(
            "40/10 * * * *", after: "2026-01-01T00:00:00Z",
            ["2026-01-01T00:40:00Z", "2026-01-01T00:50:00Z", "2026-01-01T01:40:00Z"]),
        CronCase(
            "0 0 1 */4 *", after: "2026-01-01T00:00:00Z",
            ["2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        CronCase(
            "5,10-12,*/30 0 * * *", after: "2026-01-01T00:00:00Z",
            ["2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:11:00Z", "2026-01-01T00:12:00Z", "2026-01-01T00:30:00Z"]),
        // Names, in any case, in lists and ranges.
        CronCase(
            "0 12 1 jan,Jul *", after: "2026-01-01T12:00:00Z",
            ["2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z", "2027-07-01T12:00:00Z"]),
        CronCase(
            "0 9 * * MON-fri", after: "2026-01-02T09:00:00Z",  // a Friday
            ["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z", "2026-01-07T09:00:00Z", "2026-01-08T09:00:00Z", "2026-01-09T09:00:00Z"]),
        CronCase(
            "0 0 * FEB-mar SAT", after: "2026-01-01T00:00:00Z",
            ["2026-02-07T00:00:00Z", "2026-02-14T00:00:00Z", "2026-02-21T00:00:00Z"]),
        // Day of week 0 and 7 are Sunday; 5-7 is Friday to Sunday.
        CronCase("0 0 * * 7", after: "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z"]),
        CronCase("0 0 * * 0", after: "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z"]),
        CronCase(
            "0 0 * * 5-7", after: "2026-01-01T00:00:00Z",
            ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]),
        // Macros.
        CronCase("@yearly", after: "2026-01-01T00:00:00Z", ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"]),
        CronCase("@annually", after: "2026-06-15T10:00:00Z", ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
        CronCase("@monthly", after: "2026-01-15T00:00:00Z", ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"]),
        CronCase("@weekly", after: "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z"]),
        CronCase("@daily", after: "2026-12-30T12:00:00Z", ["2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z"]),
        CronCase("@MIDNIGHT", after: "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
        CronCase("@hourly", after: "2026-01-01T00:59:59Z", ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"]),
        // Seconds field.
        CronCase(
            "*/20 * * * * *", after: "2026-01-01T00:00:05Z",
            ["2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z"]),
        CronCase(
            "30 0 12 * * *", after: "2026-01-01T12:00:30Z",
            ["2026-01-02T12:00:30Z", "2026-01-03T12:00:30Z", "2026-01-04T12:00:30Z"]),
        CronCase(
            "15,45 59 23 31 12 *", after: "2026-01-01T00:00:00Z",
            ["2026-12-31T23:59:15Z", "2026-12-31T23:59:45Z", "2027-12-31T23:59:15Z"]),
        // Extra whitespace and tabs between fields.
        CronCase("  0\t6  * * *  ", after: "2026-01-01T00:00:00Z", ["2026-01-01T06:00:00Z", "2026-01-02T06:00:00Z"]),
    ]

    static let calendar: [CronCase] = [
        // Leap years: only February 29ths, including across 2100 (not a leap year).
        CronCase("0 0 29 2 *", after: "2026-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"]),
        CronCase("0 0 29 2 *", after: "2096-03-01T00:00:00Z", ["2104-02-29T00:00:00Z"]),
        CronCase(
            "0 12 28-29 2 *", after: "2027-02-28T12:00:00Z",
            ["2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z", "2029-02-28T12:00:00Z"]),
        // Last days of months: the 31st skips shorter months; the 30th skips February.
        CronCase(
            "0 0 31 * *", after: "2026-01-01T00:00:00Z",
            ["2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"]),
        CronCase("0 0 30 * *", after: "2026-01-30T00:00:00Z", ["2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"]),
        CronCase("0 0 28-31 * *", after: "2026-02-27T00:00:00Z", ["2026-02-28T00:00:00Z", "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z"]),
        // Never: no fire within the search horizon.
        CronCase("0 0 30 2 *", after: "2026-01-01T00:00:00Z", []),
        CronCase("0 0 31 4,6,9,11 *", after: "2026-01-01T00:00:00Z", []),
        // Both day fields restricted: either matches (1 March 2026 is a Sunday).
        CronCase(
            "0 0 1 * MON", after: "2026-03-01T00:00:00Z",
            [
                "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z",
                "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z",
            ]),
        CronCase(
            "0 0 13 * FRI", after: "2026-03-01T00:00:00Z",
            ["2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z", "2026-03-27T00:00:00Z", "2026-04-03T00:00:00Z"]),
        // Day of month starting with `*`: both must match (odd days that are Mondays), as in Vixie cron.
        CronCase(
            "0 0 */2 * MON", after: "2026-03-01T00:00:00Z",
            ["2026-03-09T00:00:00Z", "2026-03-23T00:00:00Z", "2026-04-13T00:00:00Z", "2026-04-27T00:00:00Z"]),
        // Day of week `*`: day of month alone.
        CronCase("0 0 15 * *", after: "2026-01-15T00:00:00Z", ["2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z"]),
    ]

    static let timeZones: [CronCase] = [
        // Europe/Paris, spring forward on 29 March 2026: 02:00 CET becomes 03:00 CEST.
        CronCase(
            "30 2 * * *", "Europe/Paris", after: "2026-03-28T12:00:00+01:00",
            ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]),
        CronCase(
            "*/30 * * * *", "Europe/Paris", after: "2026-03-29T01:15:00+01:00",
            ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00", "2026-03-29T04:00:00+02:00"]),
        CronCase(
            "0 2 * * *", "Europe/Paris", after: "2026-03-28T02:00:00+01:00",
            ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]),
        // Europe/Paris, fall back on 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:xx happens twice.
        CronCase(
            "30 2 * * *", "Europe/Paris", after: "2026-10-24T12:00:00+02:00",
            ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"]),
        CronCase(
            "0,30 * * * *", "Europe/Paris", after: "2026-10-25T01:45:00+02:00",
            ["2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-25T03:30:00+01:00"]),
        // Starting inside the repeated hour: its wall times already fired the first time round.
        CronCase(
            "*/20 * * * *", "Europe/Paris", after: "2026-10-25T02:10:00+01:00",
            ["2026-10-25T03:00:00+01:00", "2026-10-25T03:20:00+01:00", "2026-10-25T03:40:00+01:00"]),
        // America/New_York, spring forward on 8 March 2026: 02:00 EST becomes 03:00 EDT.
        CronCase(
            "15 2 * * *", "America/New_York", after: "2026-03-07T00:00:00-05:00",
            ["2026-03-07T02:15:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:15:00-04:00"]),
        CronCase(
            "@hourly", "America/New_York", after: "2026-03-08T00:30:00-05:00",
            ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]),
        CronCase(
            "*/20 30 2 * * *", "America/New_York", after: "2026-03-08T00:00:00-05:00",
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-09T02:30:20-04:00", "2026-03-09T02:30:40-04:00"]),
        // America/New_York, fall back on 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:xx happens twice.
        CronCase(
            "30 1 * * *", "America/New_York", after: "2026-10-31T12:00:00-04:00",
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]),
        CronCase(
            "*/20 * * * *", "America/New_York", after: "2026-11-01T01:10:00-05:00",
            ["2026-11-01T02:00:00-05:00", "2026-11-01T02:20:00-05:00", "2026-11-01T02:40:00-05:00"]),
        CronCase(
            "0 * * * *", "America/New_York", after: "2026-11-01T00:00:00-04:00",
            ["2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"]),
        CronCase(
            "59 1 * * *", "America/New_York", after: "2026-11-01T01:59:30-04:00",
            ["2026-11-02T01:59:00-05:00", "2026-11-03T01:59:00-05:00"]),
        // Asia/Kolkata, +05:30 all year.
        CronCase(
            "0 9 * * *", "Asia/Kolkata", after: "2026-01-01T00:00:00Z",
            ["2026-01-01T09:00:00+05:30", "2026-01-02T09:00:00+05:30", "2026-01-03T09:00:00+05:30"]),
        CronCase(
            "0 0 * * *", "Asia/Kolkata", after: "2026-01-31T19:00:00Z",
            ["2026-02-02T00:00:00+05:30", "2026-02-03T00:00:00+05:30"]),
        CronCase(
            "*/45 23 * * *", "Asia/Kolkata", after: "2026-01-01T17:40:00Z",
            ["2026-01-01T23:45:00+05:30", "2026-01-02T23:00:00+05:30", "2026-01-02T23:45:00+05:30"]),
        // The same instant in UTC, for comparison with the wall clocks above.
        CronCase("0 9 * * *", after: "2026-01-01T00:00:00Z", ["2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z"]),
    ]

    @Test("next fire times", arguments: syntax + calendar + timeZones)
    func nextFireTimes(_ testCase: CronCase) throws {
        let expression = try CronExpression(testCase.expression)
        let timeZone = zone(testCase.timeZone)
        let start = instant(testCase.start)
        let expected = testCase.expected.map(instant)
        let times = expression.nextFireTimes(after: start, count: max(expected.count, 1), in: timeZone)
        #expect(times == expected)
        #expect(expression.next(after: start, in: timeZone) == expected.first)
        // The same through ScheduleSpec.
        let spec = try ScheduleSpec(parsing: testCase.expression, timeZoneIdentifier: testCase.timeZone)
        #expect(spec.nextFireTimes(after: start, count: expected.count) == expected)
    }

    @Test("a time with a fraction of a second fires at the next whole second")
    func fractionalStart() throws {
        let expression = try CronExpression("* * * * * *")
        let start = instant("2026-01-01T00:00:00Z").addingTimeInterval(0.25)
        #expect(expression.next(after: start) == instant("2026-01-01T00:00:01Z"))
        #expect(expression.next(after: start.addingTimeInterval(-0.5)) == instant("2026-01-01T00:00:00Z"))
    }

    @Test("every minute through a whole fall-back night fires each fire time once, in order")
    func noDuplicatesAcrossFallBack() throws {
        let expression = try CronExpression("* * * * *")
        let times = expression.nextFireTimes(after: instant("2026-11-01T00:00:00-04:00"), count: 300, in: zone("America/New_York"))
        #expect(Set(times).count == times.count)
        #expect(times == times.sorted())
        // 00:01-01:59 EDT (119), then the repeated hour is skipped, then 02:00 EST onwards.
        #expect(times[118] == instant("2026-11-01T01:59:00-04:00"))
        #expect(times[119] == instant("2026-11-01T02:00:00-05:00"))
    }

    @Test("a far-away fire time is found without scanning minute by minute")
    func farAway() throws {
        let expression = try CronExpression("59 23 29 2 *")
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<100 {
                _ = expression.next(after: instant("2096-03-01T00:00:00Z"))
            }
        }
        #expect(expression.next(after: instant("2096-03-01T00:00:00Z")) == instant("2104-02-29T23:59:00Z"))
        #expect(elapsed < .seconds(2))
    }

    @Test(
        "malformed expressions name the field and the reason",
        arguments: [
            ("* * * *", ["expected 5 or 6 fields, got 4"]),
            ("* * * * * * *", ["expected 5 or 6 fields, got 7"]),
            ("", ["expected 5 or 6 fields, got 0"]),
            ("60 * * * *", ["field 1 (minute)", "60 is out of range 0-59"]),
            ("0 25 * * *", ["field 2 (hour)", "25 is out of range 0-23"]),
            ("0 0 0 * *", ["field 3 (day of month)", "0 is out of range 1-31"]),
            ("0 0 32 * *", ["field 3 (day of month)", "32 is out of range 1-31"]),
            ("0 0 * 13 *", ["field 4 (month)", "13 is out of range 1-12"]),
            ("0 0 * * 8", ["field 5 (day of week)", "8 is out of range 0-7"]),
            ("0 0 * * FUNDAY", ["field 5 (day of week)", "unknown name 'FUNDAY'"]),
            ("0 0 * * JAN", ["field 5 (day of week)", "unknown name 'JAN'"]),
            ("0 0 * FOO *", ["field 4 (month)", "unknown name 'FOO'"]),
            ("abc * * * *", ["field 1 (minute)", "'abc' is not a number"]),
            ("*/0 * * * *", ["field 1 (minute)", "step 0 is out of range 1-59"]),
            ("0 */24 * * *", ["field 2 (hour)", "step 24 is out of range 1-23"]),
            ("*/x * * * *", ["field 1 (minute)", "step 'x' is not a number"]),
            ("*/ * * * *", ["field 1 (minute)", "missing step"]),
            ("*/5/2 * * * *", ["field 1 (minute)", "more than one '/'"]),
            ("5-1 * * * *", ["field 1 (minute)", "range 5-1 runs backwards"]),
            ("0 0 * * FRI-MON", ["field 5 (day of week)", "range FRI-MON runs backwards"]),
            ("1-2-3 * * * *", ["field 1 (minute)", "more than one '-'"]),
            ("0 0 * * MON-", ["field 5 (day of week)", "missing number"]),
            ("1,,2 * * * *", ["field 1 (minute)", "empty list item"]),
            ("0, * * * *", ["field 1 (minute)", "empty list item"]),
            ("0 0 ? * *", ["field 3 (day of month)", "'?' is not a number"]),
            ("60 * * * * *", ["field 1 (second)", "60 is out of range 0-59"]),
            ("0 60 * * * *", ["field 2 (minute)", "60 is out of range 0-59"]),
            ("0 0 25 * * *", ["field 3 (hour)", "25 is out of range 0-23"]),
            ("0 0 0 * * FUNDAY", ["field 6 (day of week)", "unknown name 'FUNDAY'"]),
            ("@reboot", ["unknown macro '@reboot'"]),
            ("@daily 5", ["unknown macro '@daily 5'"]),
        ])
    func malformed(text: String, fragments: [String]) {
        let error = #expect(throws: ConveyorError.self) { try CronExpression(text) }
        #expect(error?.code == .invalidArgument)
        for fragment in fragments {
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error") should mention \(fragment)")
        }
    }

    @Test("intervals anchored at the Unix epoch")
    func intervalsFromEpoch() throws {
        let spec = try ScheduleSpec(parsing: "every 30s")
        #expect(spec == .interval(every: 30_000, start: nil))
        #expect(
            spec.nextFireTimes(after: instant("2026-01-01T00:00:10Z"), count: 3) == [
                instant("2026-01-01T00:00:30Z"), instant("2026-01-01T00:01:00Z"), instant("2026-01-01T00:01:30Z"),
            ])
        // On a tick: the next one, strictly after.
        #expect(spec.nextFire(after: instant("2026-01-01T00:00:30Z")) == instant("2026-01-01T00:01:00Z"))
        let hourly = try ScheduleSpec(parsing: "EVERY 1h")
        #expect(hourly.nextFire(after: instant("2026-06-01T12:34:56Z")) == instant("2026-06-01T13:00:00Z"))
        let fiveMinutes = try ScheduleSpec(parsing: "every 5m")
        #expect(fiveMinutes.nextFire(after: instant("2026-06-01T12:34:56Z")) == instant("2026-06-01T12:35:00Z"))
        // 7 s does not divide a minute: ticks are multiples of 7 s since 1970.
        let seven = try ScheduleSpec(parsing: "every 7s")
        let tick = try #require(seven.nextFire(after: instant("2026-01-01T00:00:00Z")))
        #expect(Int(tick.timeIntervalSince1970) % 7 == 0)
        #expect(tick.timeIntervalSince(instant("2026-01-01T00:00:00Z")) <= 7)
        // Interval ticks ignore time zones and daylight saving: always the same gap.
        #expect(
            hourly.nextFireTimes(after: instant("2026-03-08T00:30:00-05:00"), count: 3) == [
                instant("2026-03-08T01:00:00-05:00"), instant("2026-03-08T03:00:00-04:00"), instant("2026-03-08T04:00:00-04:00"),
            ])
    }

    @Test("intervals with a start time")
    func intervalsWithStart() throws {
        let start = instant("2026-01-01T00:02:00Z")
        let spec = try ScheduleSpec(parsing: "every 5m", start: start)
        // Before the start: the start itself.
        #expect(spec.nextFireTimes(after: instant("2025-12-31T00:00:00Z"), count: 2) == [start, instant("2026-01-01T00:07:00Z")])
        #expect(spec.nextFire(after: start) == instant("2026-01-01T00:07:00Z"))
        #expect(spec.nextFire(after: instant("2026-01-01T01:00:00Z")) == instant("2026-01-01T01:02:00Z"))
        // Sub-second dates still give a tick strictly after them.
        let odd = ScheduleSpec.interval(every: 1_000, start: Date(timeIntervalSince1970: 0.001))
        let after = Date(timeIntervalSince1970: 1.001)
        #expect(try #require(odd.nextFire(after: after)) > after)
    }

    @Test(
        "bad intervals are rejected",
        arguments: [
            ("every 0s", "shorter than 1s"),
            ("every 500ms", "shorter than 1s"),
            ("every 999", "shorter than 1s"),
            ("every", "needs a duration"),
            ("every soon", "is not a duration"),
            ("every -5s", "is not a duration"),
        ])
    func badIntervals(text: String, fragment: String) {
        let error = #expect(throws: ConveyorError.self) { try ScheduleSpec(parsing: text) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error") should mention \(fragment)")
    }

    @Test("schedules in time zones")
    func scheduleTimeZones() throws {
        let spec = try ScheduleSpec(parsing: "0 9 * * *", timeZoneIdentifier: "Asia/Kolkata")
        #expect(spec == .cron(try CronExpression("0 9 * * *"), timeZone: zone("Asia/Kolkata")))
        #expect(spec.description == "0 9 * * * (Asia/Kolkata)")
        let utc = try ScheduleSpec(parsing: "@daily", timeZoneIdentifier: nil)
        #expect(utc.nextFire(after: instant("2026-01-01T12:00:00Z")) == instant("2026-01-02T00:00:00Z"))
        let error = #expect(throws: ConveyorError.self) { try ScheduleSpec(parsing: "@daily", timeZoneIdentifier: "Mars/Olympus") }
        #expect(error?.message.contains("unknown time zone 'Mars/Olympus'") == true)
    }

    @Test("misfires of an interval")
    func intervalMisfires() throws {
        let spec = try ScheduleSpec(parsing: "every 1m")
        let lastFired = instant("2026-01-01T10:00:00Z")
        let now = instant("2026-01-01T10:05:30Z")
        let next = instant("2026-01-01T10:06:00Z")
        let missed = (1...5).map { lastFired.addingTimeInterval(Double($0) * 60) }

        #expect(spec.misfires(lastFired: lastFired, now: now, policy: .skip) == MisfirePlan(missed: [], dropped: true, next: next))
        #expect(spec.misfires(lastFired: lastFired, now: now, policy: .one) == MisfirePlan(missed: [missed[4]], dropped: true, next: next))
        #expect(spec.misfires(lastFired: lastFired, now: now, policy: .all) == MisfirePlan(missed: missed, dropped: false, next: next))
        #expect(
            spec.misfires(lastFired: lastFired, now: now, policy: .all, limit: 3)
                == MisfirePlan(missed: Array(missed[2...]), dropped: true, next: next))
        // A tick exactly at now counts as missed.
        #expect(spec.misfires(lastFired: lastFired, now: missed[0], policy: .all).missed == [missed[0]])
        // Nothing missed.
        for policy in MisfirePolicy.allCases {
            #expect(
                spec.misfires(lastFired: lastFired, now: instant("2026-01-01T10:00:30Z"), policy: policy)
                    == MisfirePlan(missed: [], dropped: false, next: instant("2026-01-01T10:01:00Z")))
        }
    }

    @Test("misfires of a cron schedule")
    func cronMisfires() throws {
        let spec = try ScheduleSpec(parsing: "0 9 * * *", timeZoneIdentifier: "Europe/Paris")
        let lastFired = instant("2026-01-01T09:00:00+01:00")
        let now = instant("2026-01-11T10:00:00+01:00")
        let days = (2...11).map { instant(String(format: "2026-01-%02dT09:00:00+01:00", $0)) }
        let next = instant("2026-01-12T09:00:00+01:00")
        #expect(spec.misfires(lastFired: lastFired, now: now, policy: .skip) == MisfirePlan(missed: [], dropped: true, next: next))
        #expect(spec.misfires(lastFired: lastFired, now: now, policy: .one) == MisfirePlan(missed: [days[9]], dropped: true, next: next))
        #expect(spec.misfires(lastFired: lastFired, now: now, policy: .all) == MisfirePlan(missed: days, dropped: false, next: next))
    }

    @Test("misfires after a long pause stay cheap")
    func longPause() throws {
        let spec = try ScheduleSpec(parsing: "* * * * * *")
        let lastFired = instant("2020-01-01T00:00:00Z")
        let now = instant("2026-01-01T00:00:00Z")
        let one = spec.misfires(lastFired: lastFired, now: now, policy: .one)
        #expect(one == MisfirePlan(missed: [now], dropped: true, next: instant("2026-01-01T00:00:01Z")))
        let all = spec.misfires(lastFired: lastFired, now: now, policy: .all, limit: 100)
        #expect(all.missed.count == 100)
        #expect(all.missed.first == instant("2025-12-31T23:58:21Z"))
        #expect(all.missed.last == now)
        #expect(all.dropped)
        // A schedule that has ended: nothing missed, nothing next.
        let never = try ScheduleSpec(parsing: "0 0 30 2 *")
        #expect(never.misfires(lastFired: lastFired, now: now, policy: .all) == MisfirePlan(missed: [], dropped: false, next: nil))
    }
}
