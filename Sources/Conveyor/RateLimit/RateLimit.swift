import Foundation
import RedisClient

/// A rate: `count` requests per `period`, with a burst of `burst` requests admitted at once.
///
/// Written `100/s`, `6000/m`, `10/h` or `100/s:250` (burst 250); the burst defaults to the count, so
/// an idle client may spend one period's budget at once.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var periodMilliseconds: Int
    public var burst: Int

    public init(count: Int, periodMilliseconds: Int = 1_000, burst: Int? = nil) {
        self.count = count
        self.periodMilliseconds = periodMilliseconds
        self.burst = burst ?? count
    }

    /// The time between two requests at the sustained rate, in microseconds, rounded up so that the
    /// limiter never admits more than the configured rate.
    public var intervalMicroseconds: Int {
        (periodMilliseconds * 1_000 + count - 1) / count
    }

    /// Parses `COUNT/UNIT[:BURST]` with UNIT one of `s`, `m`, `h` (or a duration such as `10s`).
    public static func parse(_ text: String) throws(ConveyorError) -> RateLimit {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        let usage = "rate limit '\(text)' must look like 100/s, 6000/m or 100/s:250 (burst)"
        guard (1...2).contains(parts.count) else { throw ConveyorError(.invalidArgument, usage) }
        let rate = parts[0].split(separator: "/", omittingEmptySubsequences: false)
        guard rate.count == 2, let count = Int(rate[0]), (1...1_000_000_000).contains(count) else {
            throw ConveyorError(.invalidArgument, usage)
        }
        let unit = String(rate[1])
        let period: Int
        switch unit {
        case "s": period = 1_000
        case "m": period = 60_000
        case "h": period = 3_600_000
        case "d": period = 86_400_000
        default:
            do { period = try DurationParser.milliseconds(unit) } catch { throw ConveyorError(.invalidArgument, usage) }
        }
        guard period >= 1 else { throw ConveyorError(.invalidArgument, usage) }
        var burst: Int?
        if parts.count == 2 {
            guard let value = Int(parts[1]), (1...1_000_000_000).contains(value) else {
                throw ConveyorError(.invalidArgument, "\(usage); the burst must be from 1 to 1000000000")
            }
            burst = value
        }
        return RateLimit(count: count, periodMilliseconds: period, burst: burst)
    }

    public var description: String {
        let unit: String
        switch periodMilliseconds {
        case 1_000: unit = "s"
        case 60_000: unit = "m"
        case 3_600_000: unit = "h"
        case 86_400_000: unit = "d"
        default: unit = "\(periodMilliseconds)ms"
        }
        return "\(count)/\(unit):\(burst)"
    }
}

/// What the limiter decided for one request.
public struct RateDecision: Sendable, Equatable {
    public var admitted: Bool
    /// Requests the client may still send right now.
    public var remaining: Int
    /// Time until a rejected request would be admitted (0 when admitted), in microseconds.
    public var retryAfterMicroseconds: Int
    /// Time until the client's whole burst is available again, in microseconds.
    public var resetMicroseconds: Int
}

/// An exact, cluster-wide rate limiter: one GCRA state per client in Redis (`Lua/rate-limit-1.lua`),
/// timed by Redis's clock, so any number of API replicas together admit exactly the configured rate.
///
/// GCRA rather than a token bucket with refill bookkeeping or a sliding window: one integer per
/// client, one round trip, O(1) work, no window-boundary bursts, and the admitted count over any span
/// is exactly `burst + rate × span`.
public struct RateLimiter: Sendable {
    public let pool: RedisPool
    public let keys: BrokerKeys
    let script: RedisScript

    public init(pool: RedisPool, namespace: String) {
        self.pool = pool
        self.keys = BrokerKeys(namespace: namespace)
        guard let source = EmbeddedLua.scripts["rate-limit-1"] else { fatalError("Lua/rate-limit-1.lua was not embedded at build time") }
        self.script = RedisScript(name: "rate-limit-1", source: source)
    }

    /// Spends one request of `client`'s budget under `limit`. `client` is a stable name of the caller,
    /// kept in a Redis key name: never a secret (the API passes `key:<SHA-256 of the key>` or
    /// `ip:<address>`).
    public func check(client: String, limit: RateLimit) async throws -> RateDecision {
        let key = keys.prefix + "ratelimit:" + client
        let reply = try await script.run(on: pool, keys: [key], arguments: [limit.intervalMicroseconds, limit.burst])
        guard let values = reply.array?.compactMap(\.int), values.count == 4 else {
            throw ConveyorError(.redis, "rate-limit: unexpected reply \(reply)")
        }
        return RateDecision(
            admitted: values[0] == 1, remaining: max(0, values[1]), retryAfterMicroseconds: values[2],
            resetMicroseconds: values[3])
    }
}
