import Conveyor
import Foundation

/// What an API key may do. Each role includes the ones before it.
public enum APIRole: String, Sendable, Comparable, CaseIterable {
    /// Read jobs, queues, workers, schedules and statistics.
    case read
    /// Read, and enqueue jobs.
    case submit
    /// Everything: cancel, retry, pause, dead-letter and schedule management.
    case admin

    public static func < (lhs: APIRole, rhs: APIRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One API key: the secret a client sends as `Authorization: Bearer …`, its role, and an optional
/// rate limit of its own.
public struct APIKey: Sendable, Equatable {
    public var secret: String
    public var role: APIRole
    public var rateLimit: RateLimit?

    public init(secret: String, role: APIRole, rateLimit: RateLimit? = nil) {
        self.secret = secret
        self.role = role
        self.rateLimit = rateLimit
    }

    /// Parses `KEY:ROLE[:RATE[:BURST]]` entries separated by commas or new lines (`#` starts a
    /// comment in a file), e.g. `k1:admin,k2:read:10/s:20`. Errors never repeat the secret.
    public static func parseList(_ text: String) throws(ConveyorError) -> [APIKey] {
        var keys: [APIKey] = []
        let entries = text.split(whereSeparator: { $0 == "," || $0 == "\n" })
        for (index, rawEntry) in entries.enumerated() {
            let entry = rawEntry.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            let parts = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2 else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1) must be KEY:ROLE (roles: read, submit, admin)")
            }
            guard parts[0].utf8.count >= 8, parts[0].unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1): the key must be at least 8 printable characters")
            }
            guard let role = APIRole(rawValue: parts[1]) else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1): unknown role '\(parts[1])' (read, submit, admin)")
            }
            let limit = parts.count == 3 ? try RateLimit.parse(parts[2]) : nil
            guard !keys.contains(where: { $0.secret == parts[0] }) else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1) repeats an earlier key")
            }
            keys.append(APIKey(secret: parts[0], role: role, rateLimit: limit))
        }
        return keys
    }
}

/// The configured keys, looked up in time independent of where a guess differs from a key.
public struct APIKeyStore: Sendable {
    public let keys: [APIKey]

    public init(_ keys: [APIKey]) { self.keys = keys }

    /// The key whose secret equals `candidate`. Every key is compared in full, each in constant time.
    public func find(_ candidate: String) -> APIKey? {
        let guess = Array(candidate.utf8)
        var found: APIKey?
        for key in keys where Self.constantTimeEqual(Array(key.secret.utf8), guess) {
            found = key
        }
        return found
    }

    /// Compares two byte strings without an early exit on the first difference.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt(a.count ^ b.count)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= UInt(x ^ y)
        }
        return difference == 0
    }
}
