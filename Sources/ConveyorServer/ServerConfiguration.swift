import Conveyor
import Foundation

/// How `conveyor serve` runs: where it listens, who may call it, and its limits.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests read it back from `ConveyorServer.port`).
    public var port: Int
    /// False only with `--no-auth`: every caller is an admin, rate-limited by client address.
    public var authRequired: Bool
    public var keys: [APIKey]
    /// The limit of every key without one of its own (of every address without auth); nil for none.
    public var rateLimit: RateLimit?
    /// The most jobs one `POST /v1/jobs/batch` may carry.
    public var maxBatch: Int
    /// The largest request body a batch may send, in bytes.
    public var maxBatchBodyBytes: Int
    /// Once a request's first byte arrives, its head (request line and headers) must follow within
    /// this, or the connection is closed (`CONVEYOR_HTTP_HEADER_TIMEOUT`, default 10 s).
    public var headerTimeout: Duration
    /// A connection with no request for this long is closed (`CONVEYOR_HTTP_IDLE_TIMEOUT`, default 60 s).
    public var idleTimeout: Duration
    /// The most connections open at once; past it new ones wait (`CONVEYOR_HTTP_MAX_CONNECTIONS`, default 1024).
    public var maxConnections: Int
    /// Serve the dashboard from this folder instead of the copy embedded at build time (development).
    public var dashboardDirectory: String?
    /// Where Debian installs JavaScript libraries; Chart.js is served from its `chart.js/` folder.
    public var vendorDirectory: String = "/usr/share/javascript"

    public init(
        host: String = "127.0.0.1", port: Int = 8080, authRequired: Bool = true, keys: [APIKey] = [], rateLimit: RateLimit? = nil,
        maxBatch: Int = 1_000, maxBatchBodyBytes: Int = 64 << 20, headerTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60), maxConnections: Int = 1_024
    ) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.host = host
        self.port = port
        self.authRequired = authRequired
        self.keys = keys
        self.rateLimit = rateLimit
        self.maxBatch = maxBatch
        self.maxBatchBodyBytes = maxBatchBodyBytes
    }

    /// Reads `CONVEYOR_API_KEYS` (`key:role[:rate],…`), `CONVEYOR_API_KEYS_FILE` (one entry per line),
    /// `CONVEYOR_RATE_LIMIT` (`100/s`, `100/s:250` with a burst, or `off`, the default) and
    /// `CONVEYOR_MAX_BATCH` (default 1000), `CONVEYOR_HTTP_HEADER_TIMEOUT` and `CONVEYOR_HTTP_IDLE_TIMEOUT`
    /// (durations: `10s`, `500ms`) and `CONVEYOR_HTTP_MAX_CONNECTIONS`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConveyorError)
        -> ServerConfiguration
    {
        var configuration = ServerConfiguration()
        if let text = environment["CONVEYOR_API_KEYS"], !text.isEmpty {
            configuration.keys += try APIKey.parseList(text)
        }
        if let path = environment["CONVEYOR_API_KEYS_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConveyorError(.invalidArgument, "CONVEYOR_API_KEYS_FILE: cannot read \(path)")
            }
            configuration.keys += try APIKey.parseList(text)
        }
        if let text = environment["CONVEYOR_RATE_LIMIT"], !text.isEmpty, text != "off" {
            configuration.rateLimit = try RateLimit.parse(text)
        }
        if let text = environment["CONVEYOR_MAX_BATCH"], !text.isEmpty {
            guard let value = Int(text), (1...100_000).contains(value) else {
                throw ConveyorError(.invalidArgument, "CONVEYOR_MAX_BATCH must be a whole number from 1 to 100000, got '\(text)'")
            }
            configuration.maxBatch = value
        }
        for (name, keyPath) in [
            ("CONVEYOR_HTTP_HEADER_TIMEOUT", \ServerConfiguration.headerTimeout), ("CONVEYOR_HTTP_IDLE_TIMEOUT", \.idleTimeout),
        ] {
            guard let text = environment[name], !text.isEmpty else { continue }
            let milliseconds: Int
            do { milliseconds = try DurationParser.milliseconds(text) } catch {
                throw ConveyorError(.invalidArgument, "\(name): \(error.message)")
            }
            guard milliseconds > 0 else { throw ConveyorError(.invalidArgument, "\(name) must be more than 0, got '\(text)'") }
            configuration[keyPath: keyPath] = .milliseconds(milliseconds)
        }
        if let text = environment["CONVEYOR_HTTP_MAX_CONNECTIONS"], !text.isEmpty {
            guard let value = Int(text), (1...1_000_000).contains(value) else {
                throw ConveyorError(
                    .invalidArgument, "CONVEYOR_HTTP_MAX_CONNECTIONS must be a whole number from 1 to 1000000, got '\(text)'")
            }
            configuration.maxConnections = value
        }
        return configuration
    }

    /// Refuses to run open to everyone by accident.
    public func validate() throws(ConveyorError) {
        if authRequired && keys.isEmpty {
            throw ConveyorError(
                .invalidArgument, "no API keys: set CONVEYOR_API_KEYS=key:role,… or CONVEYOR_API_KEYS_FILE, or pass --no-auth")
        }
        guard (0...65_535).contains(port) else { throw ConveyorError(.invalidArgument, "--port must be from 0 to 65535") }
    }
}
