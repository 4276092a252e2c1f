import Logging

/// What a handler knows about the attempt it runs. Cancellation (timeout, cancel request, lost
/// lease, shutdown) arrives as Swift task cancellation: handlers should let `Task.sleep` and
/// `Task.checkCancellation()` throw.
public struct JobContext: Sendable {
    public var id: String
    public var type: String
    public var queue: String
    public var priority: JobPriority
    /// This attempt's number, from 1.
    public var attempt: Int
    public var maxAttempts: Int
    /// The id of the worker running the attempt.
    public var workerID: String
    /// A logger with the job's id and type attached.
    public var logger: Logger
}
