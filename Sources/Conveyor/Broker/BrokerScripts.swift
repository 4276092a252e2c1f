import RedisClient

/// The broker's Lua scripts (from `Lua/`, embedded at build time), one object per command. They run
/// as functions of one library (`EmbeddedLua.library`, FUNCTION LOAD) on Redis 7.0 and later, and
/// as scripts (EVALSHA) on older servers or when `functions` is false.
public struct BrokerScripts: Sendable {
    /// The function library every script belongs to; nil when scripts run with EVALSHA only.
    public let library: RedisFunctionLibrary?
    public let enqueue: RedisScript
    public let claim: RedisScript
    public let complete: RedisScript
    public let fail: RedisScript
    public let promote: RedisScript
    public let requeueStalled: RedisScript
    public let heartbeat: RedisScript
    public let requeue: RedisScript
    public let cancel: RedisScript
    public let retry: RedisScript
    public let deleteDead: RedisScript
    public let pause: RedisScript
    public let fireSchedule: RedisScript
    public let scheduleAdmin: RedisScript
    public let rebuildCounts: RedisScript
    public let update: RedisScript
    public let trimEvents: RedisScript

    /// Every script, for loading at start.
    public var all: [RedisScript] {
        [
            enqueue, claim, complete, fail, promote, requeueStalled, heartbeat, requeue, cancel, retry, deleteDead, pause,
            fireSchedule, scheduleAdmin, rebuildCounts, update, trimEvents,
        ]
    }

    /// - Parameter functions: run as functions when the server has them (the default); false runs
    ///   every script with EVALSHA (`CONVEYOR_LUA_FUNCTIONS=0`, and the tests of that path).
    public init(functions: Bool = true) {
        let library = functions ? RedisFunctionLibrary(name: EmbeddedLua.libraryName, code: EmbeddedLua.library) : nil
        self.library = library
        func script(_ name: String) -> RedisScript {
            guard let source = EmbeddedLua.scripts[name] else { fatalError("Lua/\(name).lua was not embedded at build time") }
            return RedisScript(
                name: name, source: source, library: library, functionName: Self.functionName(name))
        }
        enqueue = script("enqueue-4")
        claim = script("claim-4")
        complete = script("complete-3")
        fail = script("fail-6")
        promote = script("promote-3")
        requeueStalled = script("requeue-stalled-5")
        heartbeat = script("heartbeat-2")
        requeue = script("requeue-3")
        cancel = script("cancel-4")
        retry = script("retry-4")
        deleteDead = script("delete-dead-2")
        pause = script("pause-2")
        fireSchedule = script("fire-schedule-4")
        scheduleAdmin = script("schedule-admin-4")
        rebuildCounts = script("rebuild-counts-4")
        update = script("update-3")
        trimEvents = script("trim-events-1")
    }

    /// The library function running script `name` (`claim-4` → `conveyor_<hash>_claim_4`).
    public static func functionName(_ name: String) -> String {
        EmbeddedLua.libraryName + "_" + name.replacingOccurrences(of: "-", with: "_")
    }

    /// The names of every embedded script (the broker's, and `rate-limit-1` of ``RateLimiter``).
    public static var embeddedNames: [String] { EmbeddedLua.scripts.keys.sorted() }

    /// Every embedded script, by name.
    public static var embedded: [RedisScript] {
        EmbeddedLua.scripts.sorted { $0.key < $1.key }.map { RedisScript(name: $0.key, source: $0.value) }
    }
}
