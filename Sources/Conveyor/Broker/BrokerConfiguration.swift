import Foundation

/// Settings shared by every process of one Conveyor namespace, read from `CONVEYOR_*` variables.
public struct BrokerConfiguration: Sendable, Equatable {
    /// The namespace: every key lives under `{namespace}:` (one Redis Cluster slot).
    public var namespace: String
    /// The event stream's soft cap (`CONVEYOR_EVENTS_MAXLEN`, default 100,000): the promoter trims it
    /// near this many entries about once a second, but never below what the history writers still
    /// have to read (`Broker.trimEvents()`, Lua/trim-events-1.lua). An entry holds the events of one
    /// script call (Lua/includes/emit.lua): one for an enqueue of one job, a few for a claim or an
    /// acknowledgement of several, at most 10; so the default holds at most the 1,000,000 events the
    /// default held when an entry was one event.
    public var eventsMaxLength: Int
    /// The event stream's hard cap (`CONVEYOR_EVENTS_HARD_MAXLEN`, default 20 × the soft cap: 2,000,000
    /// entries, 2 to 20 million events by their mix): past it every script trims the stream, read or
    /// not. Only a history writer that stays behind (or stopped) for that long loses events; its lag
    /// alarm fires near the soft cap, long before. (When an entry was one event the default was 5 ×
    /// 1,000,000 events; 20 × keeps at least 2 million of headroom while bounding the memory a
    /// stopped writer can make Redis hold.)
    public var eventsHardMaxLength: Int
    /// Run the scripts as one function library (FUNCTION LOAD, Redis 7.0+) when the server has
    /// functions; false runs them with EVALSHA (`CONVEYOR_LUA_FUNCTIONS=0`).
    public var functions: Bool
    /// How long a finished job's hash stays in Redis, in milliseconds (`CONVEYOR_KEEP_FINISHED`).
    public var keepFinishedMilliseconds: Int
    /// The most dead jobs kept; the oldest leave first (`CONVEYOR_DEAD_MAX`).
    public var deadMax: Int
    /// A job that crashed or stalled its worker this many times goes to dead (`CONVEYOR_MAX_CRASHES`).
    public var maxCrashes: Int
    /// The largest payload accepted, in bytes (`CONVEYOR_MAX_PAYLOAD`).
    public var maxPayloadBytes: Int
    /// Run even when Redis's `maxmemory-policy` is not `noeviction` (`CONVEYOR_ALLOW_EVICTION=1`, or
    /// the CLI's `--allow-eviction`): the policy is still logged as an error. See `EvictionPolicyCheck`.
    public var allowEviction: Bool
    /// How many replicas must confirm an enqueue (`WAIT n timeout`) before it is acknowledged to its
    /// caller; 0, the default, acknowledges once the master has it (`CONVEYOR_REDIS_WAIT`).
    public var enqueueReplicas: Int
    /// How long an enqueue waits for ``enqueueReplicas``, in milliseconds, before it fails with
    /// `RedisError(.timeout)` (`CONVEYOR_REDIS_WAIT_TIMEOUT`, default 1 s). The job is enqueued on
    /// the master all the same; only its survival of a failover is unconfirmed.
    public var enqueueReplicaTimeoutMilliseconds: Int

    public init(
        namespace: String = "conveyor",
        eventsMaxLength: Int = 100_000,
        eventsHardMaxLength: Int? = nil,
        functions: Bool = true,
        keepFinishedMilliseconds: Int = 3_600_000,
        deadMax: Int = 100_000,
        maxCrashes: Int = 3,
        maxPayloadBytes: Int = 1 << 20,
        allowEviction: Bool = false,
        enqueueReplicas: Int = 0,
        enqueueReplicaTimeoutMilliseconds: Int = 1_000
    ) {
        self.namespace = namespace
        self.eventsMaxLength = eventsMaxLength
        self.eventsHardMaxLength = eventsHardMaxLength ?? eventsMaxLength * 20
        self.functions = functions
        self.keepFinishedMilliseconds = keepFinishedMilliseconds
        self.deadMax = deadMax
        self.maxCrashes = maxCrashes
        self.maxPayloadBytes = maxPayloadBytes
        self.allowEviction = allowEviction
        self.enqueueReplicas = enqueueReplicas
        self.enqueueReplicaTimeoutMilliseconds = enqueueReplicaTimeoutMilliseconds
    }

    /// Reads `CONVEYOR_NAMESPACE`, `CONVEYOR_EVENTS_MAXLEN`, `CONVEYOR_EVENTS_HARD_MAXLEN` (at least the
    /// soft cap), `CONVEYOR_LUA_FUNCTIONS` (`0`/`false`/`no`), `CONVEYOR_KEEP_FINISHED` (a duration),
    /// `CONVEYOR_DEAD_MAX`, `CONVEYOR_MAX_CRASHES`, `CONVEYOR_MAX_PAYLOAD` (bytes, or with a
    /// `k`/`m` suffix), `CONVEYOR_ALLOW_EVICTION` (`1`/`true`/`yes`), `CONVEYOR_REDIS_WAIT` (replicas, 0-16)
    /// and `CONVEYOR_REDIS_WAIT_TIMEOUT` (a duration), keeping defaults for the unset ones.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConveyorError)
        -> BrokerConfiguration
    {
        var configuration = BrokerConfiguration()
        if let namespace = environment["CONVEYOR_NAMESPACE"], !namespace.isEmpty { configuration.namespace = namespace }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(ConveyorError) -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw ConveyorError(.invalidArgument, "\(name) must be a whole number in \(range), got '\(text)'")
            }
            return value
        }
        if let value = try integer("CONVEYOR_EVENTS_MAXLEN", 1_000...1_000_000_000) {
            configuration.eventsMaxLength = value
            configuration.eventsHardMaxLength = min(value * 20, 5_000_000_000)
        }
        if let value = try integer("CONVEYOR_EVENTS_HARD_MAXLEN", 1_000...5_000_000_000) {
            guard value >= configuration.eventsMaxLength else {
                throw ConveyorError(
                    .invalidArgument,
                    "CONVEYOR_EVENTS_HARD_MAXLEN (\(value)) must be at least CONVEYOR_EVENTS_MAXLEN (\(configuration.eventsMaxLength))")
            }
            configuration.eventsHardMaxLength = value
        }
        if let text = environment["CONVEYOR_LUA_FUNCTIONS"]?.lowercased(), !text.isEmpty {
            guard ["0", "false", "no", "1", "true", "yes"].contains(text) else {
                throw ConveyorError(.invalidArgument, "CONVEYOR_LUA_FUNCTIONS must be 1 or 0, got '\(text)'")
            }
            configuration.functions = ["1", "true", "yes"].contains(text)
        }
        if let value = try integer("CONVEYOR_DEAD_MAX", 1...100_000_000) { configuration.deadMax = value }
        if let value = try integer("CONVEYOR_MAX_CRASHES", 1...1_000) { configuration.maxCrashes = value }
        if let value = try integer("CONVEYOR_REDIS_WAIT", 0...16) { configuration.enqueueReplicas = value }
        if let text = environment["CONVEYOR_REDIS_WAIT_TIMEOUT"], !text.isEmpty {
            let value = try DurationParser.milliseconds(text)
            guard value > 0 else { throw ConveyorError(.invalidArgument, "CONVEYOR_REDIS_WAIT_TIMEOUT must be above 0, got '\(text)'") }
            configuration.enqueueReplicaTimeoutMilliseconds = value
        }
        if let text = environment["CONVEYOR_KEEP_FINISHED"], !text.isEmpty {
            configuration.keepFinishedMilliseconds = try DurationParser.milliseconds(text)
        }
        if let text = environment["CONVEYOR_MAX_PAYLOAD"]?.lowercased(), !text.isEmpty {
            let suffixes: [(String, Int)] = [("kib", 1 << 10), ("mib", 1 << 20), ("k", 1 << 10), ("m", 1 << 20), ("", 1)]
            let (suffix, factor) = suffixes.first { text.hasSuffix($0.0) }!
            let digits = text.dropLast(suffix.count)
            guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let value = Int(digits), value > 0, value <= (512 << 20) / factor else {
                throw ConveyorError(.invalidArgument, "CONVEYOR_MAX_PAYLOAD must be a size like 1048576, 512k or 1m (at most 512m)")
            }
            configuration.maxPayloadBytes = value * factor
        }
        if let text = environment["CONVEYOR_ALLOW_EVICTION"]?.lowercased(), !text.isEmpty {
            guard let allow = ["1": true, "true": true, "yes": true, "0": false, "false": false, "no": false][text] else {
                throw ConveyorError(.invalidArgument, "CONVEYOR_ALLOW_EVICTION must be 1 or 0 (true/false, yes/no), got '\(text)'")
            }
            configuration.allowEviction = allow
        }
        try configuration.validate()
        return configuration
    }

    /// Rejects a namespace that would break the key layout.
    public func validate() throws(ConveyorError) {
        guard Names.isValid(namespace) else {
            throw ConveyorError(.invalidArgument, "namespace '\(namespace)' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
    }
}

/// The rule for queue and namespace names: 1 to 100 characters of `A-Z a-z 0-9 _ . -`.
public enum Names {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 100
            && name.utf8.allSatisfy { byte in
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                    || byte == 95 || byte == 46 || byte == 45
            }
    }
}
