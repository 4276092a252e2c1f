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
    /// Serve the dashboard from this folder instead of the copy embedded at build time (development).
    public var dashboardDirectory: String?
    /// Where Debian installs JavaScript libraries; Chart.js is served from its `chart.js/` folder.
    public var vendorDirectory: String = "/usr/share/javascript"

    public init(
        host: String = "127.0.0.1", port: Int = 8080, authRequired: Bool = true, keys: [APIKey] = [], rateLimit: RateLimit? = nil,
        maxBatch: Int = 1_000, maxBatchBodyBytes: Int = 64 << 20
    ) {
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
    /// `CONVEYOR_MAX_BATCH` (default 1000).
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
