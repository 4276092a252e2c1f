import NIOCore

/// One text frame for a socket: its JSON (encoded once, shared by every socket that gets it) and,
/// for a job event, its stream position.
public struct EventFrame: Sendable, Equatable {
    public var bytes: ByteBuffer
    public var position: StreamPosition?

    public init(text: String, position: StreamPosition? = nil) {
        self.bytes = ByteBuffer(string: text)
        self.position = position
    }

    public var text: String { String(buffer: bytes) }
}

/// The bounded buffer between the one stream reader and one socket, as a pure state machine (no
/// locks, no clock of its own), so its rules are unit-tested without Redis or sockets:
///
/// - job events queue up to `capacity`; past that they are dropped for this socket alone and
///   counted, and once the socket has taken what was queued it gets one `gap` message saying how
///   many were missed and after which `seq` to resume;
/// - stats messages are not queued: the newest replaces an unsent one, so a slow socket never holds
///   more than one;
/// - a socket whose buffer stays full for `closeAfter` is told to close (code 1008);
/// - while a `since` replay runs, live events queue as usual and `take` skips those at or before the
///   last replayed position, so the switch to live has neither a hole nor a duplicate.
public struct SubscriberBuffer: Sendable {
    /// What `offer` asks the caller to do.
    public enum Action: Equatable, Sendable {
        /// Nothing: the frames were queued or dropped and counted.
        case none
        /// Resume the waiting sender.
        case wake
        /// Close the socket with 1008: it has not read for too long.
        case close
    }

    public let capacity: Int
    public let closeAfter: Duration
    private var queue = CircularBuffer<EventFrame>()
    private var stats: EventFrame?
    private(set) public var missed = 0
    /// The last job event accepted into the queue: where a client resumes after a gap.
    private var lastQueued: StreamPosition?
    /// The last job event handed to the sender; later frames at or before it are skipped.
    private(set) public var lastSent: StreamPosition?
    private var fullSince: ContinuousClock.Instant?
    private(set) public var closed = false

    public init(capacity: Int, closeAfter: Duration = .seconds(30)) {
        self.capacity = max(1, capacity)
        self.closeAfter = closeAfter
        queue.reserveCapacity(min(self.capacity, 1_024))
    }

    /// True when `take` has something to give.
    public var hasFrames: Bool { !queue.isEmpty || stats != nil || missed > 0 }

    /// Offers job event frames (in stream order) arriving at `now`.
    public mutating func offer(events: [EventFrame], now: ContinuousClock.Instant) -> Action {
        guard !closed, !events.isEmpty else { return .none }
        let wasEmpty = !hasFrames
        for frame in events {
            if queue.count < capacity {
                queue.append(frame)
                lastQueued = frame.position ?? lastQueued
            } else {
                missed += 1
            }
        }
        if queue.count >= capacity {
            if let fullSince {
                if now - fullSince >= closeAfter {
                    closed = true
                    return .close
                }
            } else {
                fullSince = now
            }
        }
        return wasEmpty && hasFrames ? .wake : .none
    }

    /// Checks, without new events, whether the buffer has stayed full for `closeAfter` (a socket that
    /// stopped reading while the stream went quiet is closed too).
    public mutating func check(now: ContinuousClock.Instant) -> Action {
        guard !closed, let fullSince, now - fullSince >= closeAfter else { return .none }
        closed = true
        return .close
    }

    /// Offers the newest stats frame; it replaces one not yet taken.
    public mutating func offer(stats frame: EventFrame) -> Action {
        guard !closed else { return .none }
        let wasEmpty = !hasFrames
        stats = frame
        return wasEmpty ? .wake : .none
    }

    /// Records that a replay sent every event up to `position`.
    public mutating func replayed(through position: StreamPosition) {
        if lastSent.map({ $0 < position }) ?? true { lastSent = position }
    }

    /// Everything ready to send, in order: queued events after the last sent one, then a gap
    /// message when events were dropped, then the newest stats.
    public mutating func take(gap: (Int, StreamPosition?) -> EventFrame) -> [EventFrame] {
        var frames: [EventFrame] = []
        frames.reserveCapacity(queue.count + 2)
        while let frame = queue.popFirst() {
            if let position = frame.position {
                if let lastSent, position <= lastSent { continue }
                lastSent = position
            }
            frames.append(frame)
        }
        if missed > 0 {
            frames.append(gap(missed, lastSent))
            missed = 0
        }
        if let stats {
            frames.append(stats)
            self.stats = nil
        }
        fullSince = nil
        return frames
    }

    /// Marks the buffer closed: offers are ignored from now on.
    public mutating func close() { closed = true }
}
