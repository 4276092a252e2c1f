import Foundation

/// Everything needed to enqueue one job; only the type is required.
public struct EnqueueRequest: Sendable, Equatable {
    public var type: String
    /// The payload as JSON text.
    public var payload: String
    public var queue: String
    public var priority: JobPriority
    /// Run no sooner than this many milliseconds from now.
    public var delayMilliseconds: Int?
    /// Run no sooner than this time (wins over `delayMilliseconds`); a time in the past (1969
    /// included) means now. At most the end of year 9999.
    public var runAt: Date?
    public var maxAttempts: Int
    public var retryPolicy: RetryPolicy
    /// The time one attempt may take before it is cancelled and fails; 0 for no limit.
    public var timeoutMilliseconds: Int
    /// Idempotency key: while a job with this key is unfinished, enqueuing again returns that job.
    public var uniqueKey: String?
    /// The job id; a new UUIDv7 when nil.
    public var id: String?

    public init(
        type: String,
        payload: String = "{}",
        queue: String = "default",
        priority: JobPriority = .normal,
        delayMilliseconds: Int? = nil,
        runAt: Date? = nil,
        maxAttempts: Int = 3,
        retryPolicy: RetryPolicy = .standard,
        timeoutMilliseconds: Int = 1_800_000,
        uniqueKey: String? = nil,
        id: String? = nil
    ) {
        self.type = type
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.delayMilliseconds = delayMilliseconds
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.retryPolicy = retryPolicy
        self.timeoutMilliseconds = timeoutMilliseconds
        self.uniqueKey = uniqueKey
        self.id = id
    }

    /// Rejects bad input with a message that names the field; nothing is sent to Redis before this passes.
    public func validate(maxPayloadBytes: Int) throws(ConveyorError) {
        guard !type.isEmpty, type.unicodeScalars.count <= 200, type.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value != 127 }) else {
            throw ConveyorError(.invalidArgument, "type must be 1-200 characters, none of them a control character")
        }
        guard Names.isValid(queue) else {
            throw ConveyorError(.invalidArgument, "queue '\(queue)' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        try Self.validate(payload: payload, maxPayloadBytes: maxPayloadBytes)
        try Self.validate(maxAttempts: maxAttempts)
        if let delay = delayMilliseconds { try Self.validate(delayMilliseconds: delay) }
        if let runAt { try Self.validate(runAt: runAt) }
        try Self.validate(timeoutMilliseconds: timeoutMilliseconds)
        try Self.validate(retryPolicy: retryPolicy)
        if let uniqueKey, uniqueKey.isEmpty || uniqueKey.utf8.count > 512 {
            throw ConveyorError(.invalidArgument, "unique_key must be 1-512 bytes")
        }
        if let id, !JobID.isValid(id) {
            throw ConveyorError(.invalidArgument, "id must be 1-128 printable characters without spaces, braces or colons")
        }
    }

    // The rules of each field, shared by ``validate(maxPayloadBytes:)`` and ``JobUpdate``.

    static func validate(payload: String, maxPayloadBytes: Int) throws(ConveyorError) {
        guard payload.utf8.count <= maxPayloadBytes else {
            throw ConveyorError(.invalidArgument, "payload is \(payload.utf8.count) bytes, over the limit of \(maxPayloadBytes)")
        }
        try JSONText.validate(payload)
    }

    static func validate(maxAttempts: Int) throws(ConveyorError) {
        guard (1...10_000).contains(maxAttempts) else {
            throw ConveyorError(.invalidArgument, "max_attempts must be from 1 to 10000, got \(maxAttempts)")
        }
    }

    static func validate(delayMilliseconds delay: Int) throws(ConveyorError) {
        guard (0...315_360_000_000).contains(delay) else {
            throw ConveyorError(.invalidArgument, "delay must be from 0 to 10 years, got \(delay) ms")
        }
    }

    /// One rule for every front end (CLI --at, REST run_at, Swift, updates): the past means now.
    static func validate(runAt: Date) throws(ConveyorError) {
        guard runAt.timeIntervalSince1970 <= 253_402_300_799 else {
            throw ConveyorError(.invalidArgument, "run_at must be no later than 9999-12-31T23:59:59Z (a time in the past means now)")
        }
    }

    static func validate(timeoutMilliseconds: Int) throws(ConveyorError) {
        guard (0...315_360_000_000).contains(timeoutMilliseconds) else {
            throw ConveyorError(.invalidArgument, "timeout must be from 0 (none) to 10 years, got \(timeoutMilliseconds) ms")
        }
    }

    static func validate(retryPolicy policy: RetryPolicy) throws(ConveyorError) {
        guard policy.baseMilliseconds >= 0, policy.maxMilliseconds >= policy.baseMilliseconds,
            policy.maxMilliseconds <= 315_360_000_000, (0...1).contains(policy.jitter)
        else {
            throw ConveyorError(.invalidArgument, "backoff must have 0 <= base <= max <= 10 years and jitter in 0...1")
        }
    }
}

/// What enqueuing one job did.
public struct EnqueueResult: Sendable, Equatable {
    public var id: String
    public var state: JobState
    /// True when a unique key matched an unfinished job: nothing new was enqueued and `id` is that job.
    public var duplicate: Bool
}
