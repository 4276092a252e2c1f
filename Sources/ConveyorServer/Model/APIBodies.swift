import Conveyor
import ConveyorHistory
import Foundation

// The REST API's response bodies, also printed by the CLI's JSON output, so the two cannot disagree.
// Written by `JSONBodyEncoder`: property names become snake_case, nil is `null` (unless a type says
// otherwise), dates are RFC 3339 UTC. `API/openapi.yaml` describes each under the name in its comment.

/// A job as Redis holds it (`Job`): payload and result exactly as stored.
public struct JobBody: Encodable, Sendable {
    public var id: String
    public var type: String
    public var queue: String
    public var priority: JobPriority
    public var state: JobState
    public var attempts: Int
    public var maxAttempts: Int
    public var crashes: Int
    public var payload: RawJSON
    public var result: RawJSON?
    public var lastError: String?
    public var backoff: BackoffBody
    public var timeoutMs: Int
    public var uniqueKey: String?
    public var worker: String?
    public var runAt: Date?
    public var createdAt: Date?
    public var enqueuedAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date?
    /// The schedule that enqueued the job and the tick it fired for (null for other jobs).
    public var schedule: String?
    public var tick: Date?

    public init(_ job: Job) {
        id = job.id
        type = job.type
        queue = job.queue
        priority = job.priority
        state = job.state
        attempts = job.attempts
        maxAttempts = job.maxAttempts
        crashes = job.crashes
        payload = RawJSON(lenient: job.payload)
        result = job.result.map { RawJSON(lenient: $0) }
        lastError = job.lastError
        backoff = BackoffBody(job.retryPolicy)
        timeoutMs = job.timeoutMilliseconds
        uniqueKey = job.uniqueKey
        worker = job.worker
        runAt = job.runAt
        createdAt = job.createdAt
        enqueuedAt = job.enqueuedAt
        startedAt = job.startedAt
        finishedAt = job.finishedAt
        updatedAt = job.updatedAt
        schedule = job.schedule
        tick = job.tick
    }
}

/// A retry policy (`Backoff`): kind `none`, `fixed` or `exponential`, delays in milliseconds.
public struct BackoffBody: Encodable, Sendable {
    public var kind: String
    public var baseMs: Int
    public var maxMs: Int
    public var jitter: Double

    public init(_ policy: RetryPolicy) {
        kind = policy.kind.rawValue
        baseMs = policy.baseMilliseconds
        maxMs = policy.maxMilliseconds
        jitter = policy.jitter
    }
}

/// One job with its timeline (`JobDetail`): the live job from Redis, or its MongoDB history document
/// once it left Redis. `timeline` is null while MongoDB is unavailable.
public enum JobDetailBody: Encodable, Sendable {
    case live(JobBody, timeline: [RawJSON]?)
    case history(RawJSON)

    /// A history document (`Document.historyJSONObject`) with its `_id` as `id`, `source: history`.
    public static func history(document: [String: Any], id: String, timeline: [[String: Any]]?) -> JobDetailBody {
        var object = document
        object["id"] = object.removeValue(forKey: "_id") ?? id
        object["source"] = "history"
        object["timeline"] = timeline ?? NSNull()
        return .history(RawJSON(object: object))
    }

    enum CodingKeys: CodingKey { case source, timeline }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .live(let job, let timeline):
            try job.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("redis", forKey: .source)
            try container.encodeIfPresent(timeline, forKey: .timeline)
        case .history(let raw):
            var container = encoder.singleValueContainer()
            try container.encode(raw)
        }
    }
}

/// `{"jobs": [...], "next_cursor": ...}`: a page of jobs, newest first.
public struct JobPageBody<Item: Encodable & Sendable>: Encodable, Sendable {
    public var jobs: [Item]
    public var nextCursor: String?

    public init(jobs: [Item], nextCursor: String?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

extension JobPageBody where Item == RawJSON {
    /// History documents, each with its `_id` as `id`.
    public init(page: JobPage) {
        self.init(
            jobs: page.jobs.map { document in
                var object = document.historyJSONObject
                object["id"] = object.removeValue(forKey: "_id") ?? NSNull()
                return RawJSON(object: object)
            }, nextCursor: page.nextCursor)
    }
}

/// One queue's counts (`Queue`).
public struct QueueBody: Encodable, Sendable, Equatable {
    public var high: Int
    public var normal: Int
    public var low: Int
    public var delayed: Int
    public var running: Int
    public var dead: Int
    public var paused: Bool

    /// Every known queue by name, from the broker's depths and counts.
    public static func all(stats: BrokerStats, counts: [String: QueueCounts]) -> [String: QueueBody] {
        var queues: [String: QueueBody] = [:]
        for name in Set(stats.queues.keys).union(counts.keys) {
            let depth = stats.queues[name]
            let count = counts[name]
            queues[name] = QueueBody(
                high: depth?.high ?? 0, normal: depth?.normal ?? 0, low: depth?.low ?? 0, delayed: count?.delayed ?? 0,
                running: count?.running ?? 0, dead: count?.dead ?? 0, paused: depth?.paused ?? false)
        }
        return queues
    }
}

/// `{"queues": {name: Queue}}`.
public struct QueuesBody: Encodable, Sendable {
    public var queues: [String: QueueBody]

    public init(queues: [String: QueueBody]) { self.queues = queues }
}

/// A live worker (`Worker`).
public struct WorkerBody: Encodable, Sendable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    /// Ids of the jobs it runs now.
    public var running: [String]
    public var startedAt: Date
    public var heartbeatAt: Date
    public var heartbeatAgeMs: Int

    public init(_ worker: WorkerInfo, now: Date = Date()) {
        id = worker.id
        host = worker.host
        pid = worker.pid
        queues = worker.queues
        concurrency = worker.concurrency
        running = worker.running
        startedAt = Date(timeIntervalSince1970: worker.startedAt)
        heartbeatAt = Date(timeIntervalSince1970: worker.heartbeatAt)
        heartbeatAgeMs = max(0, Int(((now.timeIntervalSince1970 - worker.heartbeatAt) * 1000).rounded()))
    }
}

/// `{"workers": [Worker]}`.
public struct WorkersBody: Encodable, Sendable {
    public var workers: [WorkerBody]

    public init(workers: [WorkerBody]) { self.workers = workers }
}

/// The broker's counters (`BrokerStats`): waiting jobs per queue and priority, delayed, running and
/// dead jobs, and totals since the namespace was created.
public struct BrokerStatsBody: Encodable, Sendable {
    /// Waiting jobs of one queue by priority, and whether it is paused.
    public struct Depth: Encodable, Sendable {
        public var high: Int
        public var normal: Int
        public var low: Int
        public var paused: Bool
    }

    public var queues: [String: Depth]
    public var delayed: Int
    public var running: Int
    public var dead: Int
    /// `enqueued`, `succeeded`, `failed`, `retried`, `dead`, `cancelled`, `stalled`.
    public var totals: [String: Int]

    public init(_ stats: BrokerStats) {
        queues = stats.queues.mapValues { Depth(high: $0.high, normal: $0.normal, low: $0.low, paused: $0.paused) }
        delayed = stats.delayed
        running = stats.running
        dead = stats.dead
        var totals: [String: Int] = [:]
        for name in ["enqueued", "succeeded", "failed", "retried", "dead", "cancelled", "stalled"] {
            totals[name] = stats.totals[name] ?? 0
        }
        self.totals = totals
    }
}

/// `GET /v1/stats` (`Stats`): history totals by state and type, per-minute outcomes, broker counters.
public struct StatsBody: Encodable, Sendable {
    /// Succeeded and failed attempts in one minute.
    public struct Minute: Encodable, Sendable {
        public var minute: Date
        public var succeeded: Int
        public var failed: Int
    }

    public var byState: [String: Int]
    public var byType: [String: Int]
    public var hours: Int
    public var perMinute: [Minute]
    public var broker: BrokerStatsBody

    public init(byState: [String: Int], byType: [String: Int], hours: Int, perMinute: [MinuteCounts], broker: BrokerStats) {
        self.byState = byState
        self.byType = byType
        self.hours = hours
        self.perMinute = perMinute.map { Minute(minute: $0.minute, succeeded: $0.succeeded, failed: $0.failed) }
        self.broker = BrokerStatsBody(broker)
    }
}

/// A schedule with its next fire times and last run (`Schedule`).
public struct ScheduleBody: Encodable, Sendable {
    public var name: String
    public var expression: String
    public var tz: String
    public var start: Date?
    public var misfire: String
    public var noOverlap: Bool
    public var paused: Bool
    public var type: String
    public var payload: RawJSON
    public var queue: String
    public var priority: JobPriority
    public var maxAttempts: Int
    /// The next 5 fire times (none while paused).
    public var next: [Date]
    public var lastTick: Date?
    public var lastRunId: String?
    public var lastRunState: JobState?
    public var runs: Int
    public var skipped: Int
    public var misfired: Int

    public init(_ info: ScheduleInfo) {
        let schedule = info.schedule
        name = schedule.name
        expression = schedule.expression
        tz = schedule.timeZone ?? "UTC"
        start = schedule.start
        misfire = schedule.misfire.rawValue
        noOverlap = schedule.noOverlap
        paused = info.paused
        type = schedule.job.type
        payload = RawJSON(lenient: schedule.job.payload)
        queue = schedule.job.queue
        priority = schedule.job.priority
        maxAttempts = schedule.job.maxAttempts
        next = info.nextFireTimes
        lastTick = info.lastTick
        lastRunId = info.lastRunID
        lastRunState = info.lastRunState
        runs = info.runs
        skipped = info.skipped
        misfired = info.misfired
    }
}

/// `{"schedules": [Schedule]}`.
public struct SchedulesBody: Encodable, Sendable {
    public var schedules: [ScheduleBody]

    public init(schedules: [ScheduleBody]) { self.schedules = schedules }
}

/// What an enqueue answers: the job's id and state; `duplicate` when a job with the same unique key
/// was unfinished and nothing was enqueued.
public struct EnqueueBody: Encodable, Sendable {
    public var id: String
    public var state: JobState
    public var duplicate: Bool?

    public init(id: String, state: JobState, duplicate: Bool?) {
        self.id = id
        self.state = state
        self.duplicate = duplicate
    }

    enum CodingKeys: CodingKey { case id, state, duplicate }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(state, forKey: .state)
        if duplicate == true { try container.encode(true, forKey: .duplicate) }
    }
}

/// `POST /v1/jobs/batch`: every id in request order, and the indexes that matched an unfinished job's
/// unique key.
public struct BatchBody: Encodable, Sendable {
    public var ids: [String]
    public var duplicates: [Int]
}

/// A job's state after an action on it (cancel, retry, update): `previous_state` where it says more.
public struct JobStateBody: Encodable, Sendable {
    public var id: String
    public var state: JobState
    public var previousState: JobState?
    /// The fields an update changed.
    public var changed: [String]?

    public init(id: String, state: JobState, previousState: JobState? = nil, changed: [String]? = nil) {
        self.id = id
        self.state = state
        self.previousState = previousState
        self.changed = changed
    }

    enum CodingKeys: CodingKey { case id, state, previousState, changed }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(state, forKey: .state)
        if let previousState { try container.encode(previousState, forKey: .previousState) }
        if let changed { try container.encode(changed, forKey: .changed) }
    }
}

/// A queue after pause or resume: `changed` is false when it already was so.
public struct PauseBody: Encodable, Sendable {
    public var queue: String
    public var paused: Bool
    public var changed: Bool
}

/// `POST /v1/dead/retry`: how many went back, and per id `retried`, `notfound`, `duplicate` or the
/// state that kept it (absent for `all`).
public struct RetryDeadBody: Encodable, Sendable {
    public var retried: Int
    public var results: [String: String]?

    public init(retried: Int, results: [String: String]? = nil) {
        self.retried = retried
        self.results = results
    }

    enum CodingKeys: CodingKey { case retried, results }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(retried, forKey: .retried)
        if let results { try container.encode(results, forKey: .results) }
    }
}

/// A deletion: the job id or schedule name, and `deleted: true`.
public struct DeletedBody: Encodable, Sendable {
    public var id: String?
    public var name: String?
    public var deleted = true

    enum CodingKeys: CodingKey { case id, name, deleted }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let id { try container.encode(id, forKey: .id) }
        if let name { try container.encode(name, forKey: .name) }
        try container.encode(deleted, forKey: .deleted)
    }
}

/// A schedule run now: its name and the job it enqueued.
public struct ScheduleRunBody: Encodable, Sendable {
    public var name: String
    public var id: String
}

/// `/healthz` and `/readyz`: `status`, and the readiness checks by name ("ok" or why not).
public struct StatusBody: Encodable, Sendable {
    public var status: String
    public var checks: [String: String]?

    public init(status: String, checks: [String: String]? = nil) {
        self.status = status
        self.checks = checks
    }

    enum CodingKeys: CodingKey { case status, checks }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        if let checks { try container.encode(checks, forKey: .checks) }
    }
}
