import Synchronization

/// One socket's subscription to the hub: its filter and its bounded buffer, behind a lock, with the
/// sender task's continuation while it waits for frames.
public final class EventSubscriber: Sendable {
    /// Why `next` returned nothing more.
    public enum End: Error, Sendable, Equatable {
        /// The socket read nothing for too long: close it with 1008.
        case tooSlow
        /// The server is shutting down (or the subscription was cancelled).
        case shutdown
    }

    private struct State {
        var buffer: SubscriberBuffer
        var waiter: CheckedContinuation<Void, Never>?
        var end: End?
        /// Resumed when the subscription ends too slow (`waitUntilTooSlow`).
        var slowWatcher: CheckedContinuation<Void, Never>?
        var watcherCancelled = false
    }

    public let filter: EventFilter
    private let state: Mutex<State>

    init(filter: EventFilter, capacity: Int, closeAfter: Duration) {
        self.filter = filter
        self.state = Mutex(State(buffer: SubscriberBuffer(capacity: capacity, closeAfter: closeAfter)))
    }

    /// Queues job event frames (already filtered for this subscriber).
    func offer(events: [EventFrame], now: ContinuousClock.Instant) {
        apply { $0.offer(events: events, now: now) }
    }

    /// Closes the subscription when its buffer has stayed full too long (called once a second).
    func check(now: ContinuousClock.Instant) {
        apply { $0.check(now: now) }
    }

    private func apply(_ change: (inout SubscriberBuffer) -> SubscriberBuffer.Action) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            switch change(&state.buffer) {
            case .none: return nil
            case .wake:
                defer { state.waiter = nil }
                return state.waiter
            case .close:
                state.end = .tooSlow
                state.slowWatcher?.resume()
                state.slowWatcher = nil
                defer { state.waiter = nil }
                return state.waiter
            }
        }
        waiter?.resume()
    }

    /// Returns when the socket was found too slow (its sender may be stuck in a write), or when the
    /// calling task is cancelled.
    func waitUntilTooSlow() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.end == .tooSlow || state.watcherCancelled { return true }
                    state.slowWatcher = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let watcher = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.watcherCancelled = true
                defer { state.slowWatcher = nil }
                return state.slowWatcher
            }
            watcher?.resume()
        }
    }

    /// True once the subscription ended because the socket was too slow.
    var isTooSlow: Bool { state.withLock { $0.end == .tooSlow } }

    /// Replaces the pending stats frame.
    func offer(stats: EventFrame) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.buffer.offer(stats: stats) == .wake else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Records that a `since` replay sent every event up to `position`.
    func replayed(through position: StreamPosition) {
        state.withLock { $0.buffer.replayed(through: position) }
    }

    /// Ends the subscription: `next` returns `end` once the frames already queued are taken.
    func finish(_ end: End) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.end == nil { state.end = end }
            state.buffer.close()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits for frames: the next ones to send, or why the subscription ended (`tooSlow` at once,
    /// without the frames still queued; `shutdown` after them).
    func next() async -> Result<[EventFrame], End> {
        while true {
            let taken: Result<[EventFrame], End>? = state.withLock { state in
                if state.end == .tooSlow { return .failure(.tooSlow) }
                if state.buffer.hasFrames {
                    return .success(state.buffer.take { missed, resume in Self.gapFrame(missed: missed, resume: resume) })
                }
                if let end = state.end { return .failure(end) }
                return nil
            }
            if let taken { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.buffer.hasFrames || state.end != nil { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    static func gapFrame(missed: Int, resume: StreamPosition?) -> EventFrame {
        let text = (try? EventHub.encoder.string(GapMessage(missed: missed, resume: resume?.description))) ?? "{\"kind\":\"gap\"}"
        return EventFrame(text: text)
    }
}
