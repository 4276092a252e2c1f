import RedisClient

/// The broker's Lua scripts (from `Lua/`, embedded at build time), one object per command.
public struct BrokerScripts: Sendable {
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

    /// Every script, for loading at start.
    public var all: [RedisScript] {
        [
            enqueue, claim, complete, fail, promote, requeueStalled, heartbeat, requeue, cancel, retry, deleteDead, pause,
            fireSchedule, scheduleAdmin, rebuildCounts, update,
        ]
    }

    public init() {
        func script(_ name: String) -> RedisScript {
            guard let source = EmbeddedLua.scripts[name] else { fatalError("Lua/\(name).lua was not embedded at build time") }
            return RedisScript(name: name, source: source)
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
    }

    /// The names of every embedded script (the broker's, and `rate-limit-1` of ``RateLimiter``).
    public static var embeddedNames: [String] { EmbeddedLua.scripts.keys.sorted() }

    /// Every embedded script, by name.
    public static var embedded: [RedisScript] {
        EmbeddedLua.scripts.sorted { $0.key < $1.key }.map { RedisScript(name: $0.key, source: $0.value) }
    }
}
