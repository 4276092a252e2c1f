import Foundation

/// Where the Redis Sentinels are and which master they watch.
///
/// With one set in ``RedisConfiguration/sentinel``, every connection asks the sentinels for the
/// master's address instead of using ``RedisConfiguration/endpoint``, and follows a failover
/// (connection lost, `-READONLY`, `-LOADING`, `+switch-master`) without a restart. The master's own
/// password and database still come from the ``RedisConfiguration``.
public struct RedisSentinelConfiguration: Sendable, Hashable {
    /// One sentinel's TCP address.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The sentinels, asked in turn (at least one).
    public var sentinels: [Address]
    /// The name the sentinels monitor the master under (`sentinel monitor NAME ...`).
    public var masterName: String
    /// The sentinels' own ACL user, if they require one.
    public var username: String?
    /// The sentinels' own password (`requirepass` in sentinel.conf), if they require one.
    public var password: String?
    /// How long connecting to one sentinel may take, in milliseconds, before the next is tried.
    public var connectTimeoutMilliseconds: Int

    public init(
        sentinels: [Address], masterName: String, username: String? = nil, password: String? = nil,
        connectTimeoutMilliseconds: Int = 500
    ) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.username = username
        self.password = password
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }

    /// Parses `host:port,host:port` (`[::1]:26379` for IPv6; the port defaults to 26379).
    ///
    /// - Throws: `RedisError(.invalidURL)` for an empty list, an empty host or a port outside 1-65535.
    public static func addresses(_ text: String) throws -> [Address] {
        var addresses: [Address] = []
        for item in text.split(separator: ",") {
            let entry = item.trimmingCharacters(in: .whitespaces)
            var host = entry
            var port = 26379
            if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
                host = String(entry[entry.index(after: entry.startIndex)..<close])
                let rest = entry[entry.index(after: close)...]
                if rest.hasPrefix(":") {
                    guard let value = Int(rest.dropFirst()) else { throw RedisError(.invalidURL, "bad sentinel port in '\(entry)'") }
                    port = value
                }
            } else if let colon = entry.lastIndex(of: ":") {
                host = String(entry[..<colon])
                guard let value = Int(entry[entry.index(after: colon)...]) else {
                    throw RedisError(.invalidURL, "bad sentinel port in '\(entry)'")
                }
                port = value
            }
            guard !host.isEmpty, (1...65535).contains(port) else { throw RedisError(.invalidURL, "bad sentinel address '\(entry)'") }
            addresses.append(Address(host: host, port: port))
        }
        guard !addresses.isEmpty else { throw RedisError(.invalidURL, "no sentinel address in '\(text)'") }
        return addresses
    }
}
