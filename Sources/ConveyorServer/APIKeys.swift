import Conveyor
import Crypto
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

/// One API key: the SHA-256 digest of the secret a client sends as `Authorization: Bearer …` (the
/// secret itself is not kept), its role, and an optional rate limit of its own.
public struct APIKey: Sendable, Equatable {
    /// SHA-256 of the secret's UTF-8 bytes (FIPS 180-4), 32 bytes.
    public var digest: [UInt8]
    public var role: APIRole
    public var rateLimit: RateLimit?

    public init(secret: String, role: APIRole, rateLimit: RateLimit? = nil) {
        self.init(digest: Self.digest(of: secret), role: role, rateLimit: rateLimit)
    }

    public init(digest: [UInt8], role: APIRole, rateLimit: RateLimit? = nil) {
        self.digest = digest
        self.role = role
        self.rateLimit = rateLimit
    }

    /// The digest in lower-case hex: the name this key's rate budget goes by (in Redis), and what a
    /// `sha256:<hex>:role` entry holds.
    public var digestHex: String { digest.map { String(format: "%02x", $0) }.joined() }

    /// SHA-256 of `secret`.
    public static func digest(of secret: String) -> [UInt8] { Array(SHA256.hash(data: Array(secret.utf8))) }

    /// Parses entries separated by commas or new lines (`#` starts a comment in a file):
    /// `KEY:ROLE[:RATE[:BURST]]`, e.g. `k1-secret:admin,k2-secret:read:10/s:20`, or
    /// `sha256:<64 hex digits>:ROLE[:RATE[:BURST]]` with the digest of the key instead of the key
    /// (`printf %s KEY | sha256sum`), so a key file need not hold secrets. Errors never repeat a secret.
    public static func parseList(_ text: String) throws(ConveyorError) -> [APIKey] {
        var keys: [APIKey] = []
        let entries = text.split(whereSeparator: { $0 == "," || $0 == "\n" })
        for (index, rawEntry) in entries.enumerated() {
            let entry = rawEntry.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            var parts = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            var digest: [UInt8]?
            if parts[0] == "sha256" {
                // Keys are at least 8 characters, so a plain key is never the word "sha256".
                parts = entry.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false).dropFirst().map(String.init)
                guard let bytes = Self.bytes(hex: parts.first ?? ""), bytes.count == 32 else {
                    throw ConveyorError(.invalidArgument, "API key entry \(index + 1): sha256: must be followed by 64 hex digits")
                }
                digest = bytes
            }
            guard parts.count >= 2 else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1) must be KEY:ROLE (roles: read, submit, admin)")
            }
            if digest == nil {
                guard parts[0].utf8.count >= 8, parts[0].unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
                    throw ConveyorError(.invalidArgument, "API key entry \(index + 1): the key must be at least 8 printable characters")
                }
            }
            guard let role = APIRole(rawValue: parts[1]) else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1): unknown role '\(parts[1])' (read, submit, admin)")
            }
            let limit = parts.count == 3 ? try RateLimit.parse(parts[2]) : nil
            let key = APIKey(digest: digest ?? Self.digest(of: parts[0]), role: role, rateLimit: limit)
            guard !keys.contains(where: { $0.digest == key.digest }) else {
                throw ConveyorError(.invalidArgument, "API key entry \(index + 1) repeats an earlier key")
            }
            keys.append(key)
        }
        return keys
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

/// The configured keys. A candidate is hashed once and its digest compared with every key's in
/// constant time, so neither timing nor memory reveals a key.
public struct APIKeyStore: Sendable {
    public let keys: [APIKey]

    public init(_ keys: [APIKey]) { self.keys = keys }

    /// The key whose secret is `candidate`. Every key's digest is compared in full.
    public func find(_ candidate: String) -> APIKey? {
        let digest = APIKey.digest(of: candidate)
        var found: APIKey?
        for key in keys where Self.constantTimeEqual(key.digest, digest) {
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
