import Foundation

/// Where and how to reach Redis: parsed from `redis://[user:password@]host[:port][/db]` or
/// `unix://[user:password@]/path/to/socket[?db=N]`, with connect and command timeouts.
public struct RedisConfiguration: Sendable, Equatable {
    /// A TCP host and port, or a Unix socket path.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int
    /// How long a connect may take before it fails.
    public var connectTimeoutMilliseconds: Int
    /// How long a (non-blocking) command may wait for its reply.
    public var commandTimeoutMilliseconds: Int
    /// Runs on every new connection (first connect and each reconnect) before its first command.
    public var onConnect: RedisConnectHook?
    /// When set, the master is found through these sentinels and ``endpoint`` is not used.
    public var sentinel: RedisSentinelConfiguration?

    public init(
        endpoint: Endpoint = .tcp(host: "127.0.0.1", port: 6379),
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeoutMilliseconds: Int = 2_000,
        commandTimeoutMilliseconds: Int = 5_000,
        sentinel: RedisSentinelConfiguration? = nil
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.commandTimeoutMilliseconds = commandTimeoutMilliseconds
        self.sentinel = sentinel
    }

    /// Parses a `redis://` or `unix://` URL.
    public init(url text: String) throws {
        self.init()
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw RedisError(.invalidURL, "not a URL: \(text)")
        }
        username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
        password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        for item in components.queryItems ?? [] where item.name == "db" {
            guard let value = item.value.flatMap({ Int($0) }), value >= 0 else {
                throw RedisError(.invalidURL, "db must be a non-negative integer in \(text)")
            }
            database = value
        }
        switch scheme {
        case "redis":
            let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
            let port = components.port ?? 6379
            guard (1...65535).contains(port) else { throw RedisError(.invalidURL, "port out of range in \(text)") }
            endpoint = .tcp(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else {
                    throw RedisError(.invalidURL, "database must be a number in \(text)")
                }
                database = db
            }
        case "unix":
            let path = components.path
            guard !path.isEmpty else { throw RedisError(.invalidURL, "unix:// needs a socket path: \(text)") }
            endpoint = .unix(path: path)
        default:
            throw RedisError(.invalidURL, "scheme must be redis:// or unix://, got \(scheme)://")
        }
    }

    /// The endpoint for logs, with no credentials.
    public var redactedDescription: String {
        if let sentinel {
            return "sentinel://\(sentinel.sentinels.map(\.description).joined(separator: ","))/\(sentinel.masterName)/\(database)"
        }
        switch endpoint {
        case .tcp(let host, let port): return "redis://\(host):\(port)/\(database)"
        case .unix(let path): return "unix://\(path)?db=\(database)"
        }
    }
}

/// A check run on each new connection, on the connection's own thread, before any other command:
/// `body(connection, reconnect)` may send commands; throwing fails the connect (with the usual
/// backoff before the next attempt). `reconnect` is false for the connection's first connect. Two hooks
/// are equal only when they are the same hook.
public struct RedisConnectHook: Sendable, Equatable {
    private let id = UUID()
    public let body: @Sendable (_ connection: RedisConnection, _ reconnect: Bool) throws -> Void

    public init(_ body: @escaping @Sendable (_ connection: RedisConnection, _ reconnect: Bool) throws -> Void) {
        self.body = body
    }

    public static func == (a: RedisConnectHook, b: RedisConnectHook) -> Bool { a.id == b.id }
}
