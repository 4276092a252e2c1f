import Foundation

/// A recurring job: a unique name, when it fires, and the job each tick enqueues.
///
/// Stored in Redis as the hash `{ns}:schedule:<name>`; its next fire time (ms) is the score of the
/// name in the zset `{ns}:schedules:due`, and `{ns}:schedules` holds every name.
public struct Schedule: Sendable, Equatable {
    /// The unique name (1-100 characters of A-Z a-z 0-9 _ . -).
    public var name: String
    /// A cron expression (`*/5 * * * *`, with an optional leading seconds field, or a macro such as
    /// `@daily`) or an interval (`every 30s`).
    public var expression: String
    /// The IANA time zone of a cron expression; `nil` for UTC.
    public var timeZone: String?
    /// The first tick of an interval; `nil` counts ticks from the Unix epoch.
    public var start: Date?
    /// What happens to the ticks missed while no promoter ran.
    public var misfire: MisfirePolicy
    /// Skip a tick while the job of the previous one is still unfinished.
    public var noOverlap: Bool
    /// The job each tick enqueues (its `delayMilliseconds`, `runAt`, `uniqueKey` and `id` are ignored).
    public var job: EnqueueRequest

    /// A schedule from its parts.
    public init(
        name: String, expression: String, timeZone: String? = nil, start: Date? = nil, misfire: MisfirePolicy = .skip,
        noOverlap: Bool = false, job: EnqueueRequest
    ) {
        self.name = name
        self.expression = expression
        self.timeZone = timeZone
        self.start = start
        self.misfire = misfire
        self.noOverlap = noOverlap
        self.job = job
    }

    /// The parsed expression; throws the engine's message (position and reason) for a bad one.
    public func spec() throws(ConveyorError) -> ScheduleSpec {
        try ScheduleSpec(parsing: expression, timeZoneIdentifier: timeZone, start: start)
    }

    /// Rejects a bad name, expression or job template.
    public func validate(maxPayloadBytes: Int) throws(ConveyorError) {
        guard Names.isValid(name) else {
            throw ConveyorError(.invalidArgument, "schedule name '\(name)' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        guard (1...200).contains(expression.count) else {
            throw ConveyorError(.invalidArgument, "expression must be 1-200 characters, got \(expression.count)")
        }
        if let timeZone, !Self.isTimeZoneName(timeZone) {
            throw ConveyorError(
                .invalidArgument,
                "time zone '\(timeZone.prefix(64))' must be an IANA name such as Europe/Paris (1-64 of A-Z a-z 0-9 _ + - /)")
        }
        let spec = try spec()
        if case .cron = spec, start != nil {
            throw ConveyorError(.invalidArgument, "a start time applies to interval schedules (every 30s) only, not to cron expressions")
        }
        if case .cron(let cron, _) = spec, cron.neverFires {
            throw ConveyorError(
                .invalidArgument,
                "cron expression '\(cron.source)' never fires: none of the months it allows has any of its days of the month "
                    + "(February has 29 days at most; April, June, September and November 30)")
        }
        var template = job
        template.delayMilliseconds = nil
        template.runAt = nil
        template.uniqueKey = nil
        template.id = nil
        try template.validate(maxPayloadBytes: maxPayloadBytes)
    }

    /// The shape of an IANA zone name, as `API/openapi.yaml` states it: a letter, then letters, digits,
    /// `_ + - /`, 64 at most. Whether the zone exists is checked when the expression is parsed.
    static func isTimeZoneName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes[0].isASCIILetter else { return false }
        return bytes.allSatisfy { $0.isASCIILetter || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "_+-/".utf8.contains($0) }
    }

    /// The definition's fields in the schedule hash.
    var fields: [String] {
        [
            "expression", expression, "tz", timeZone ?? "", "start_ms",
            start.map { String(Int(($0.timeIntervalSince1970 * 1000).rounded())) } ?? "",
            "misfire", misfire.rawValue, "no_overlap", noOverlap ? "1" : "0", "type", job.type, "payload", job.payload,
            "queue", job.queue, "priority", job.priority.rawValue, "max_attempts", String(job.maxAttempts),
            "backoff", job.retryPolicy.encoded, "timeout_ms", String(job.timeoutMilliseconds),
        ]
    }

    /// A definition read back from its hash.
    init?(fields: [String: String]) {
        guard let name = fields["name"], let expression = fields["expression"], let type = fields["type"] else { return nil }
        self.name = name
        self.expression = expression
        self.timeZone = fields["tz"].flatMap { $0.isEmpty ? nil : $0 }
        self.start = fields["start_ms"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
        self.misfire = fields["misfire"].flatMap(MisfirePolicy.init) ?? .skip
        self.noOverlap = fields["no_overlap"] == "1"
        self.job = EnqueueRequest(
            type: type, payload: fields["payload"] ?? "{}", queue: fields["queue"] ?? "default",
            priority: fields["priority"].flatMap(JobPriority.init) ?? .normal,
            maxAttempts: fields["max_attempts"].flatMap { Int($0) } ?? 3,
            retryPolicy: fields["backoff"].flatMap { RetryPolicy(encoded: $0) } ?? .standard,
            timeoutMilliseconds: fields["timeout_ms"].flatMap { Int($0) } ?? 1_800_000)
    }
}

/// A schedule as Redis holds it now, with its state and next fire times.
public struct ScheduleInfo: Sendable {
    /// The definition.
    public var schedule: Schedule
    /// Whether ticks are held back.
    public var paused: Bool
    /// The next fire times (up to 5; none while paused).
    public var nextFireTimes: [Date]
    /// The last tick fired by a promoter.
    public var lastTick: Date?
    /// The job of the last run (tick or run-now), and its state if it is still in Redis.
    public var lastRunID: String?
    public var lastRunState: JobState?
    /// Jobs enqueued, ticks skipped by no_overlap, and misfire catch-ups that dropped ticks.
    public var runs: Int
    public var skipped: Int
    public var misfired: Int
}

extension UInt8 {
    fileprivate var isASCIILetter: Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self | 0x20) }
}
