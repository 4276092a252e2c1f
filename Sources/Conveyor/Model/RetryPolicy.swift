import Foundation

/// How long a job waits between a failed attempt and the next one.
///
/// Plain data stored with the job (`none`, `fixed:<ms>[:<jitter>]`,
/// `exponential:<base ms>:<cap ms>[:<jitter>]`) so the fail script computes the next run time itself.
/// Jitter `j` in 0...1 keeps `(1 - j)` of the delay and draws the rest at random; `jitter` alone in
/// the CLI means 0.5 ("equal jitter").
public struct RetryPolicy: Sendable, Equatable, Codable {
    /// The shape of the delay.
    public enum Kind: String, Sendable, Codable { case none, fixed, exponential }

    public var kind: Kind
    /// The delay of a fixed policy, or the first delay of an exponential one, in milliseconds.
    public var baseMilliseconds: Int
    /// The largest delay of an exponential policy, in milliseconds.
    public var maxMilliseconds: Int
    /// The share of the delay drawn at random, 0...1.
    public var jitter: Double

    public init(kind: Kind, baseMilliseconds: Int = 0, maxMilliseconds: Int? = nil, jitter: Double = 0) {
        self.kind = kind
        self.baseMilliseconds = baseMilliseconds
        self.maxMilliseconds = maxMilliseconds ?? baseMilliseconds
        self.jitter = jitter
    }

    /// Retry at once.
    public static let none = RetryPolicy(kind: .none)
    /// The same wait before every retry.
    public static func fixed(milliseconds: Int, jitter: Double = 0) -> RetryPolicy {
        RetryPolicy(kind: .fixed, baseMilliseconds: milliseconds, jitter: jitter)
    }
    /// `base × 2^(attempt-1)`, capped at `max`.
    public static func exponential(baseMilliseconds: Int, maxMilliseconds: Int, jitter: Double = 0) -> RetryPolicy {
        RetryPolicy(kind: .exponential, baseMilliseconds: baseMilliseconds, maxMilliseconds: maxMilliseconds, jitter: jitter)
    }
    /// The default: exponential from 1 s up to 1 h, with equal jitter.
    public static let standard = RetryPolicy.exponential(baseMilliseconds: 1_000, maxMilliseconds: 3_600_000, jitter: 0.5)

    /// The form stored in Redis and read by the Lua scripts.
    public var encoded: String {
        let jitterText = jitter > 0 ? ":\(jitter)" : ""
        switch kind {
        case .none: return "none"
        case .fixed: return "fixed:\(baseMilliseconds)\(jitterText)"
        case .exponential: return "exponential:\(baseMilliseconds):\(maxMilliseconds)\(jitterText)"
        }
    }

    /// Reads the stored form back.
    public init?(encoded: String) {
        let parts = encoded.split(separator: ":").map(String.init)
        switch parts.first {
        case "none": self = .none
        case "fixed":
            guard parts.count >= 2, let base = Int(parts[1]) else { return nil }
            self = .fixed(milliseconds: base, jitter: parts.count > 2 ? Double(parts[2]) ?? 0 : 0)
        case "exponential":
            guard parts.count >= 3, let base = Int(parts[1]), let cap = Int(parts[2]) else { return nil }
            self = .exponential(baseMilliseconds: base, maxMilliseconds: cap, jitter: parts.count > 3 ? Double(parts[3]) ?? 0 : 0)
        default: return nil
        }
    }

    /// Parses the CLI form: `fixed:1s`, `exponential:100ms:30s`, `exponential:100ms:30s:jitter`,
    /// `exponential:100ms:30s:0.25`, or `none`.
    public static func parse(_ text: String) throws(ConveyorError) -> RetryPolicy {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func jitter(_ index: Int) throws(ConveyorError) -> Double {
            guard index < parts.count else { return 0 }
            if parts[index] == "jitter" { return 0.5 }
            guard let value = Double(parts[index]), (0...1).contains(value) else {
                throw ConveyorError(.invalidArgument, "backoff jitter must be 'jitter' or a number from 0 to 1, got '\(parts[index])'")
            }
            return value
        }
        switch parts.first {
        case "none" where parts.count == 1:
            return .none
        case "fixed" where parts.count == 2 || parts.count == 3:
            return .fixed(milliseconds: try DurationParser.milliseconds(parts[1]), jitter: try jitter(2))
        case "exponential" where parts.count == 3 || parts.count == 4:
            let base = try DurationParser.milliseconds(parts[1])
            let cap = try DurationParser.milliseconds(parts[2])
            guard cap >= base else {
                throw ConveyorError(.invalidArgument, "backoff cap \(parts[2]) is below its base \(parts[1])")
            }
            return .exponential(baseMilliseconds: base, maxMilliseconds: cap, jitter: try jitter(3))
        default:
            throw ConveyorError(
                .invalidArgument,
                "backoff must be fixed:<duration>[:jitter] or exponential:<base>:<cap>[:jitter], got '\(text)'")
        }
    }

    /// The wait before attempt `attempt + 1` after `attempt` failed, for `random` in 0..<1.
    /// Mirrors `backoff_delay` in `Lua/includes/common.lua`; used for display and tests.
    public func delay(afterAttempt attempt: Int, random: Double) -> Int {
        var delay: Double
        switch kind {
        case .none: return 0
        case .fixed: delay = Double(baseMilliseconds)
        case .exponential:
            delay = min(Double(maxMilliseconds), Double(baseMilliseconds) * pow(2, Double(min(attempt - 1, 52))))
        }
        if jitter > 0 { delay = delay * (1 - jitter) + delay * jitter * random }
        return Int(delay.rounded(.down))
    }
}
