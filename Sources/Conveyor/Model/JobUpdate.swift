import Foundation

/// Changes to a job that has not started yet (scheduled, queued or retrying); nil fields stay as
/// they are. Each field follows the rules of the same field of ``EnqueueRequest``.
public struct JobUpdate: Sendable, Equatable {
    /// A new priority: a queued job moves to the head of that priority's list.
    public var priority: JobPriority?
    /// Run no sooner than this many milliseconds from now (exclusive with `runAt`).
    public var delayMilliseconds: Int?
    /// Run no sooner than this time (exclusive with `delayMilliseconds`). A future time makes a queued
    /// job scheduled; a time now or past makes a scheduled or retrying job queued.
    public var runAt: Date?
    /// The payload as JSON text.
    public var payload: String?
    /// Attempts before the job is dead. Lowering it under the attempts a retrying job already made
    /// leaves it one more attempt.
    public var maxAttempts: Int?
    /// The wait between failed attempts.
    public var retryPolicy: RetryPolicy?
    /// The time one attempt may take; 0 for no limit.
    public var timeoutMilliseconds: Int?

    public init(
        priority: JobPriority? = nil, delayMilliseconds: Int? = nil, runAt: Date? = nil, payload: String? = nil,
        maxAttempts: Int? = nil, retryPolicy: RetryPolicy? = nil, timeoutMilliseconds: Int? = nil
    ) {
        self.priority = priority
        self.delayMilliseconds = delayMilliseconds
        self.runAt = runAt
        self.payload = payload
        self.maxAttempts = maxAttempts
        self.retryPolicy = retryPolicy
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// True when no field is set.
    public var isEmpty: Bool { self == JobUpdate() }

    /// Rejects bad input with a message that names the field, with the rules of ``EnqueueRequest``;
    /// an update that sets nothing, or both a delay and a run time, is rejected too.
    public func validate(maxPayloadBytes: Int) throws(ConveyorError) {
        guard !isEmpty else {
            throw ConveyorError(
                .invalidArgument, "nothing to update: give priority, run_at or delay, payload, max_attempts, backoff or timeout")
        }
        guard delayMilliseconds == nil || runAt == nil else {
            throw ConveyorError(.invalidArgument, "give a delay or a run time (run_at), not both")
        }
        if let payload { try EnqueueRequest.validate(payload: payload, maxPayloadBytes: maxPayloadBytes) }
        if let maxAttempts { try EnqueueRequest.validate(maxAttempts: maxAttempts) }
        if let delayMilliseconds { try EnqueueRequest.validate(delayMilliseconds: delayMilliseconds) }
        if let runAt { try EnqueueRequest.validate(runAt: runAt) }
        if let timeoutMilliseconds { try EnqueueRequest.validate(timeoutMilliseconds: timeoutMilliseconds) }
        if let retryPolicy { try EnqueueRequest.validate(retryPolicy: retryPolicy) }
    }
}

/// What updating a job did.
public enum JobUpdateOutcome: Sendable, Equatable {
    /// The job was scheduled, queued or retrying and now has the new values. `state` is its state now
    /// (it differs from `previous` when a new run time moved it between the delayed set and its queue);
    /// `changed` names the fields whose value changed (`priority`, `run_at`, `payload`, `max_attempts`,
    /// `backoff`, `timeout_ms`), empty when it already had those values (then nothing was written).
    case updated(state: JobState, previous: JobState, changed: [String])
    /// The job is running or finished (`state`): nothing changed.
    case refused(state: JobState)
    /// No such job in Redis (never existed, or finished and expired).
    case notFound
}
