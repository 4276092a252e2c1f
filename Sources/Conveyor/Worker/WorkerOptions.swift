/// How a worker process consumes: which queues, how many jobs at once, lease and shutdown timing.
public struct WorkerOptions: Sendable {
    /// Queues served, in the order they are tried within each priority.
    public var queues: [String]
    /// Handlers running at once.
    public var concurrency: Int
    /// How long a claimed job stays locked without a heartbeat; after that it counts as stalled.
    public var leaseMilliseconds: Int
    /// On SIGTERM/SIGINT, how long running jobs may take to finish before they are requeued.
    public var gracePeriodMilliseconds: Int
    /// How long one BRPOP waits for work (short, so shutdown is prompt).
    public var blockSeconds: Double
    /// The most jobs claimed in one script call.
    public var claimBatch: Int
    /// How long the acknowledgement of a small batch of finished attempts (fewer than half of
    /// `min(claimBatch, concurrency)`) waits for more to join it, in microseconds; 0 sends at once.
    /// Each script call costs Redis ~30 µs beside its jobs (README, "Side by side with Sidekiq"), so
    /// at concurrency 10 acks of ~4 jobs cost more Redis CPU per job than acks of ~10. Only when a
    /// job's success is recorded moves (by at most this); no job starts later.
    public var ackLingerMicroseconds: Int = 1_000
    /// How often leases are extended and cancellations collected; default `min(1 s, lease / 3)`.
    public var heartbeatMilliseconds: Int?
    /// The worker's id; default `host:pid:random`.
    public var id: String?
    /// Schedules declared in code, upserted (idempotently, by name) when the worker starts; they fire
    /// wherever a promoter runs.
    public var schedules: [Schedule] = []

    public init(
        queues: [String] = ["default"], concurrency: Int = 10, leaseMilliseconds: Int = 30_000,
        gracePeriodMilliseconds: Int = 30_000, blockSeconds: Double = 2, claimBatch: Int = 100,
        heartbeatMilliseconds: Int? = nil, id: String? = nil
    ) {
        self.queues = queues
        self.concurrency = concurrency
        self.leaseMilliseconds = leaseMilliseconds
        self.gracePeriodMilliseconds = gracePeriodMilliseconds
        self.blockSeconds = blockSeconds
        self.claimBatch = claimBatch
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.id = id
    }

    /// Rejects options a worker cannot run with.
    public func validate() throws(ConveyorError) {
        guard !queues.isEmpty, queues.allSatisfy(Names.isValid) else {
            throw ConveyorError(.invalidArgument, "queues must be names of 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        guard (1...10_000).contains(concurrency) else { throw ConveyorError(.invalidArgument, "concurrency must be from 1 to 10000") }
        guard leaseMilliseconds >= 300 else { throw ConveyorError(.invalidArgument, "lease must be at least 300ms") }
        guard gracePeriodMilliseconds >= 0 else { throw ConveyorError(.invalidArgument, "grace must not be negative") }
        guard blockSeconds > 0, blockSeconds <= 30 else { throw ConveyorError(.invalidArgument, "block time must be in (0, 30] s") }
        guard (1...10_000).contains(claimBatch) else { throw ConveyorError(.invalidArgument, "claim batch must be from 1 to 10000") }
        guard (0...100_000).contains(ackLingerMicroseconds) else {
            throw ConveyorError(.invalidArgument, "ack linger must be from 0 to 100000 µs")
        }
    }
}
