import Hummingbird
import Logging

/// Probes for a process without the REST API (`worker`, `promoter`, `history` with `--health-port`):
/// `GET /healthz` answers 200 `{"status":"ok"}` while the process runs; `GET /readyz` answers 200
/// `{"status":"ready","checks":{name:"ok"}}` when every check passes within 2 s, else 503 with the
/// failing checks named (`{"status":"not ready","checks":{"redis":"unreachable: …"}}`).
public struct HealthServer: Sendable {
    /// One dependency readiness waits for: a name and a call that throws when it is unreachable.
    public struct Check: Sendable {
        public var name: String
        public var probe: @Sendable () async throws -> Void

        public init(name: String, probe: @escaping @Sendable () async throws -> Void) {
            self.name = name
            self.probe = probe
        }
    }

    public var host: String
    public var port: Int
    public var checks: [Check]
    public var logger: Logger

    /// - Parameters:
    ///   - host: the address to listen on (`0.0.0.0` so a kubelet or Docker can reach it).
    ///   - port: the TCP port (0 picks a free one).
    public init(host: String = "0.0.0.0", port: Int, checks: [Check], logger: Logger = Logger(label: "conveyor.health")) {
        self.host = host
        self.port = port
        self.checks = checks
        self.logger = logger
    }

    /// The health server as a ServiceLifecycle service; `onServerRunning` gets the bound port.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in try JSONResponse.make(StatusBody(status: "ok")) }
        router.get("/readyz") { _, _ in try await readiness() }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "conveyor-health"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Runs every check at once, each bounded by 2 s.
    func readiness() async throws -> Response {
        var results: [String: String] = [:]
        await withTaskGroup(of: (String, String).self) { group in
            for check in checks {
                group.addTask { (check.name, await ConveyorAPI.check(seconds: 2, check.probe)) }
            }
            for await (name, result) in group { results[name] = result }
        }
        let ready = results.values.allSatisfy { $0 == "ok" }
        return try JSONResponse.make(
            StatusBody(status: ready ? "ready" : "not ready", checks: results), status: ready ? .ok : .serviceUnavailable)
    }
}
