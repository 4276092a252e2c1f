import Synchronization

/// Turns many concurrent single-job enqueues into few script calls: requests that arrive while
/// earlier ones are on their way to Redis wait together and go in one atomic `enqueue` call.
///
/// Each job still gets its own result (including a unique-key duplicate of a job enqueued in the same
/// call) and is validated on its own, so one bad request fails alone. A call is atomic: if Redis
/// fails, none of the jobs in it was enqueued and every caller in it gets the error. A lone request
/// goes at once; batching only happens under concurrency, so it adds no latency when idle.
public final class EnqueueCoalescer: Sendable {
    /// Limits of one call.
    public struct Options: Sendable {
        /// Script calls in flight at once (each takes one pooled connection).
        public var maxInFlight: Int
        /// Jobs in one call.
        public var maxJobs: Int
        /// Payload bytes in one call (a request bigger than this goes alone).
        public var maxBytes: Int

        public init(maxInFlight: Int = 4, maxJobs: Int = 500, maxBytes: Int = 4 << 20) {
            self.maxInFlight = max(1, maxInFlight)
            self.maxJobs = max(1, min(maxJobs, Broker.enqueueChunk))
            self.maxBytes = max(1, maxBytes)
        }
    }

    private struct Pending {
        let request: EnqueueRequest
        let continuation: CheckedContinuation<EnqueueResult, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var inFlight = 0
    }

    public let broker: Broker
    public let options: Options
    private let state = Mutex(State())
    private let callCount = Atomic<Int>(0)

    /// Script calls made so far (each carries one or more jobs).
    public var calls: Int { callCount.load(ordering: .relaxed) }

    public init(broker: Broker, options: Options = Options()) {
        self.broker = broker
        self.options = options
    }

    /// Enqueues one job, together with whatever other jobs are waiting; throws what
    /// `Broker.enqueue(_:)` would throw.
    public func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        try request.validate(maxPayloadBytes: broker.configuration.maxPayloadBytes)
        return try await withCheckedThrowingContinuation { continuation in
            let startFlusher = state.withLock { state in
                state.pending.append(Pending(request: request, continuation: continuation))
                guard state.inFlight < options.maxInFlight else { return false }
                state.inFlight += 1
                return true
            }
            if startFlusher { Task { await self.flush() } }
        }
    }

    /// Sends waiting requests until none is left, one call at a time.
    private func flush() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                guard !state.pending.isEmpty else {
                    state.inFlight -= 1
                    return []
                }
                var count = 0
                var bytes = 0
                for pending in state.pending {
                    let size = pending.request.payload.utf8.count
                    if count == options.maxJobs || (count > 0 && bytes + size > options.maxBytes) { break }
                    count += 1
                    bytes += size
                }
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            callCount.add(1, ordering: .relaxed)
            do {
                let results = try await broker.enqueueValidated(batch.map(\.request), atomic: true)
                for (pending, result) in zip(batch, results) { pending.continuation.resume(returning: result) }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}
