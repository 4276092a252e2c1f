import Foundation

/// A snapshot of one job as Redis holds it.
public struct Job: Sendable, Equatable {
    public var id: String
    public var type: String
    public var queue: String
    public var priority: JobPriority
    public var state: JobState
    /// The payload as JSON text.
    public var payload: String
    /// The handler's result as JSON text, once it succeeded.
    public var result: String?
    public var attempts: Int
    public var maxAttempts: Int
    /// How many times a worker died or stalled while running this job (not counted as attempts).
    public var crashes: Int
    public var retryPolicy: RetryPolicy
    public var timeoutMilliseconds: Int
    public var uniqueKey: String?
    public var lastError: String?
    public var worker: String?
    public var runAt: Date?
    public var createdAt: Date?
    public var enqueuedAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date?
    /// The schedule that enqueued the job, and the tick it fired for.
    public var schedule: String?
    public var tick: Date?

    /// Reads a job hash (HGETALL); nil when the hash is empty or not a job.
    public init?(fields: [String: String]) {
        guard let id = fields["id"], let type = fields["type"], let state = fields["state"].flatMap(JobState.init) else {
            return nil
        }
        func date(_ key: String) -> Date? {
            fields[key].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
        }
        func text(_ key: String) -> String? { fields[key].flatMap { $0.isEmpty ? nil : $0 } }
        self.id = id
        self.type = type
        self.queue = fields["queue"] ?? "default"
        self.priority = fields["priority"].flatMap(JobPriority.init) ?? .normal
        self.state = state
        self.payload = fields["payload"] ?? "null"
        self.result = text("result")
        self.attempts = fields["attempts"].flatMap { Int($0) } ?? 0
        self.maxAttempts = fields["max_attempts"].flatMap { Int($0) } ?? 1
        self.crashes = fields["crashes"].flatMap { Int($0) } ?? 0
        self.retryPolicy = fields["backoff"].flatMap { RetryPolicy(encoded: $0) } ?? .none
        self.timeoutMilliseconds = fields["timeout_ms"].flatMap { Int($0) } ?? 0
        self.uniqueKey = text("unique_key")
        self.lastError = text("last_error")
        self.worker = text("worker")
        self.runAt = date("run_at") ?? date("created_at")
        self.createdAt = date("created_at")
        self.enqueuedAt = date("enqueued_at")
        self.startedAt = date("started_at")
        self.finishedAt = date("finished_at")
        self.updatedAt = date("updated_at") ?? date("created_at")
        self.schedule = text("schedule")
        self.tick = date("tick")
    }
}
