/// The Redis key layout of one namespace. Every key shares the hash tag `{namespace}`.
public struct BrokerKeys: Sendable {
    /// `{ns}:` — the prefix every key starts with; passed to the Lua scripts.
    public let prefix: String

    public init(namespace: String) { prefix = "{\(namespace)}:" }

    public func job(_ id: String) -> String { prefix + "job:" + id }
    public func lock(_ id: String) -> String { prefix + "lock:" + id }
    public func list(_ queue: String, _ priority: JobPriority) -> String { prefix + "q:" + queue + ":" + priority.rawValue }
    public func wake(_ queue: String) -> String { prefix + "wake:" + queue }
    public func workerWake(_ worker: String) -> String { prefix + "wake:worker:" + worker }
    public func unique(_ key: String) -> String { prefix + "unique:" + key }
    public func worker(_ id: String) -> String { prefix + "worker:" + id }
    public var delayed: String { prefix + "delayed" }
    public var inflight: String { prefix + "inflight" }
    public var dead: String { prefix + "dead" }
    public var events: String { prefix + "events" }
    public var stats: String { prefix + "stats" }
    /// `{ns}:counts` — delayed, running and dead jobs per queue, kept by the scripts (hash).
    public var counts: String { prefix + "counts" }
    public var paused: String { prefix + "paused" }
    public var queues: String { prefix + "queues" }
    public var workers: String { prefix + "workers" }
    public var promoterWake: String { prefix + "promoter:wake" }
}

extension BrokerKeys {
    /// `{ns}:schedule:<name>` — one schedule's definition and state (hash).
    public func schedule(_ name: String) -> String { prefix + "schedule:" + name }
    /// `{ns}:schedules` — every schedule name (set).
    public var schedules: String { prefix + "schedules" }
    /// `{ns}:schedules:due` — each unpaused schedule's next fire time in ms (zset).
    public var schedulesDue: String { prefix + "schedules:due" }
}
