import Foundation
import Logging
import RedisClient
import Synchronization

/// Refuses a Redis that may evict keys. Conveyor keeps every job, list and counter in Redis without a
/// TTL; with any `maxmemory-policy` but `noeviction`, Redis under memory pressure deletes queue lists,
/// job hashes and the stats hash, and jobs vanish without a trace (Redis answers OOM errors to writes
/// instead with `noeviction`, which Conveyor reports).
///
/// Runs on each new connection (first connect and every reconnect, see `RedisConnectHook`): reads
/// `maxmemory_policy` from `INFO memory`. Anything but `noeviction` is logged at error level, naming
/// the setting and the way out; unless `allowEviction`, the connect then fails with that message
/// (`ConveyorError.redis`), so no command runs against such a Redis. A Redis that hides `INFO` (ACLs)
/// is logged once at warning level and allowed.
public final class EvictionPolicyCheck: Sendable {
    /// The policy Conveyor needs.
    public static let required = "noeviction"

    public let allowEviction: Bool
    let logger: Logger
    private let state = Mutex<(policy: String?, lastLog: ContinuousClock.Instant?, warnedUnknown: Bool)>((nil, nil, false))

    public init(allowEviction: Bool, logger: Logger) {
        self.allowEviction = allowEviction
        self.logger = logger
    }

    /// The policy the last new connection found (nil before the first, or when `INFO` is refused).
    public var policy: String? { state.withLock { $0.policy } }

    /// True when the last policy seen is one that may evict keys.
    public var evicts: Bool { policy.map { $0 != Self.required } ?? false }

    /// What is wrong with `policy`, and how to fix it or run anyway.
    public static func message(policy: String) -> String {
        "Redis maxmemory-policy is '\(policy)', not 'noeviction': under memory pressure Redis would evict queue lists, job hashes and stats, "
            + "and jobs would vanish without a trace. Set 'maxmemory-policy noeviction' (redis.conf, or CONFIG SET maxmemory-policy noeviction), "
            + "or run anyway with --allow-eviction or CONVEYOR_ALLOW_EVICTION=1"
    }

    /// Reads the policy on `connection` and logs or refuses it (see the type's description).
    public func check(_ connection: RedisConnection, reconnect: Bool) throws {
        let reply = try connection.send([Array("INFO".utf8), Array("memory".utf8)])
        guard let info = reply.string,
            let line = info.split(whereSeparator: { $0.isNewline }).first(where: { $0.hasPrefix("maxmemory_policy:") })
        else {
            let warn = state.withLock { state in
                defer { state.warnedUnknown = true }
                return !state.warnedUnknown
            }
            if warn {
                logger.warning(
                    "cannot read Redis's maxmemory-policy (INFO memory refused?); make sure it is noeviction",
                    metadata: ["reply": .string("\(reply)".prefix(200).description)])
            }
            return
        }
        let policy = String(line.dropFirst("maxmemory_policy:".count)).trimmingCharacters(in: .whitespaces)
        let now = ContinuousClock.now
        let log = state.withLock { state -> Bool in
            // Once per change, and on reconnects at most every 5 s (a pool's connections reconnect together).
            let changed = state.policy != policy
            let quiet = state.lastLog.map { now - $0 < .seconds(5) } ?? false
            state.policy = policy
            guard policy != Self.required, changed || (reconnect && !quiet) else { return false }
            state.lastLog = now
            return true
        }
        guard policy != Self.required else { return }
        if log {
            logger.error(
                "\(Self.message(policy: policy))\(allowEviction ? " (running anyway: eviction allowed)" : "")",
                metadata: ["maxmemory-policy": .string(policy), "reconnect": .stringConvertible(reconnect)])
        }
        if !allowEviction { throw ConveyorError(.redis, Self.message(policy: policy)) }
    }
}
