import Conveyor
import ConveyorHistory
import Foundation

/// A position in the `{ns}:events` stream (`1718000000000-3`), ordered as Redis orders entry ids.
public struct StreamPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Parses `ms-seq` (or `ms`, sequence 0); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let digits = { (part: String) in !part.isEmpty && part.unicodeScalars.allSatisfy { ("0"..."9").contains($0) } }
        guard (1...2).contains(parts.count), digits(String(parts[0])), let milliseconds = UInt64(parts[0]) else { return nil }
        var sequence: UInt64 = 0
        if parts.count == 2 {
            guard digits(String(parts[1])), let value = UInt64(parts[1]) else { return nil }
            sequence = value
        }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    public static let zero = StreamPosition(milliseconds: 0, sequence: 0)
    public var description: String { "\(milliseconds)-\(sequence)" }
    public static func < (a: StreamPosition, b: StreamPosition) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}

/// What the feed knows of a job besides an event's own fields: its type, queue and priority (only
/// the `enqueued` event carries them; the others are completed from the job hash or a cache).
public struct JobIdentity: Sendable, Hashable {
    public var type: String?
    public var queue: String?
    public var priority: String?

    public init(type: String?, queue: String?, priority: String?) {
        self.type = type
        self.queue = queue
        self.priority = priority
    }
}

/// `{"kind":"job",…}`: one job transition of the event stream, as `GET /v1/events` sends it (absent
/// fields omitted). The one place that maps stream entries to feed messages.
public struct JobEventMessage: Encodable, Sendable {
    public var kind = "job"
    /// The event's id (`<ms>-<entry seq * 1000 + index>`, `HistoryEvent`); `since=<seq>` resumes after it.
    public var seq: String
    public var id: String
    public var type: String?
    public var queue: String?
    public var priority: String?
    /// The state the event leaves the job in; absent for events that change none.
    public var state: String?
    public var event: String
    public var attempt: Int?
    public var worker: String?
    public var error: String?
    public var at: Date

    /// The message of a stream entry; nil for entries about no job (queue pauses).
    public init?(_ event: HistoryEvent, identity: JobIdentity?) {
        guard let job = event.job else { return nil }
        seq = event.id
        id = job
        type = event.fields["type"] ?? identity?.type
        queue = event.fields["queue"] ?? identity?.queue
        priority = event.fields["priority"] ?? identity?.priority
        state = event.state
        self.event = event.name
        attempt = event.fields["attempt"].flatMap { Int($0) }
        worker = event.fields["worker"].flatMap { $0.isEmpty ? nil : $0 }
        error = event.fields["error"] ?? event.fields["reason"]
        at = Date(timeIntervalSince1970: Double(event.milliseconds) / 1_000)
    }

    /// The identity the event itself carries (an `enqueued` event's type, queue and priority).
    public static func identity(of event: HistoryEvent) -> JobIdentity? {
        guard let type = event.fields["type"], let queue = event.fields["queue"] else { return nil }
        return JobIdentity(type: type, queue: queue, priority: event.fields["priority"])
    }
}

/// `{"kind":"stats",…}`, once a second: the cluster's queues, throughput and workers.
public struct StatsMessage: Encodable, Sendable, Equatable {
    public var kind = "stats"
    public var at: Date
    /// Per queue: waiting jobs by priority, delayed, running, dead, paused.
    public var queues: [String: QueueBody]
    public var delayed: Int
    public var running: Int
    public var dead: Int
    /// Jobs succeeded per second, over the last 10 s.
    public var succeededPerSecond: Double
    /// Failed attempts per second, over the last 10 s.
    public var failedPerSecond: Double
    public var workersOnline: Int
    /// The broker's totals since the namespace was created (`succeeded`, `failed`, …).
    public var totals: [String: Int]
}

/// `{"kind":"gap",…}`: this client fell behind and `missed` events were dropped for it alone;
/// reconnecting with `since=<resume>` fetches them from the stream.
public struct GapMessage: Encodable, Sendable {
    public var kind = "gap"
    public var missed: Int
    /// The last event sent before the gap.
    public var resume: String?
}
