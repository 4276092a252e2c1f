import Foundation

/// Options for a job pushed from Swift; everything but the type and payload of ``EnqueueRequest``.
public struct JobOptions: Sendable {
    public var queue: String
    public var priority: JobPriority
    public var delayMilliseconds: Int?
    public var runAt: Date?
    public var maxAttempts: Int
    public var retryPolicy: RetryPolicy
    public var timeoutMilliseconds: Int
    public var uniqueKey: String?

    public init(
        queue: String = "default", priority: JobPriority = .normal, delayMilliseconds: Int? = nil, runAt: Date? = nil,
        maxAttempts: Int = 3, retryPolicy: RetryPolicy = .standard, timeoutMilliseconds: Int = 1_800_000,
        uniqueKey: String? = nil
    ) {
        self.queue = queue
        self.priority = priority
        self.delayMilliseconds = delayMilliseconds
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.retryPolicy = retryPolicy
        self.timeoutMilliseconds = timeoutMilliseconds
        self.uniqueKey = uniqueKey
    }
}

extension Broker {
    /// Enqueues a typed job: `broker.push(SendEmail(to: ...))`.
    @discardableResult
    public func push<Parameters: JobParameters>(_ parameters: Parameters, options: JobOptions = JobOptions()) async throws -> EnqueueResult
    {
        let payload = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
        return try await enqueue(
            EnqueueRequest(
                type: Parameters.jobType, payload: payload, queue: options.queue, priority: options.priority,
                delayMilliseconds: options.delayMilliseconds, runAt: options.runAt, maxAttempts: options.maxAttempts,
                retryPolicy: options.retryPolicy, timeoutMilliseconds: options.timeoutMilliseconds,
                uniqueKey: options.uniqueKey))
    }
}
