/// A queue's waiting jobs by priority, and whether it is paused.
public struct QueueStats: Sendable, Equatable, Codable {
    public var high: Int
    public var normal: Int
    public var low: Int
    public var paused: Bool
}

/// The broker's counters: per-queue depth, delayed, running and dead jobs, and running totals.
public struct BrokerStats: Sendable, Equatable {
    public var queues: [String: QueueStats]
    public var delayed: Int
    public var running: Int
    public var dead: Int
    /// Totals since the namespace was created: `enqueued`, `succeeded` (jobs, each once), `failed`
    /// (attempts), `retried`, `dead`, `cancelled`, `stalled`.
    public var totals: [String: Int]
}

/// A live worker's registration, refreshed by its heartbeat.
public struct WorkerInfo: Sendable, Equatable, Codable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    public var running: [String]
    public var startedAt: Double
    public var heartbeatAt: Double

    enum CodingKeys: String, CodingKey {
        case id, host, pid, queues, concurrency, running
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
    }
}

/// Jobs of one queue outside its lists: waiting for their time or backoff, running, and dead.
public struct QueueCounts: Sendable, Equatable {
    /// Jobs scheduled for later or waiting out a retry backoff.
    public var delayed: Int
    /// Jobs in state running.
    public var running: Int
    /// Jobs in the dead-letter queue.
    public var dead: Int

    public init(delayed: Int = 0, running: Int = 0, dead: Int = 0) {
        self.delayed = delayed
        self.running = running
        self.dead = dead
    }
}
