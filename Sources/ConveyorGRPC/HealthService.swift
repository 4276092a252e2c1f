import ConveyorServer
import GRPCCore

/// The standard `grpc.health.v1.Health` service: SERVING for the server ("") and
/// `conveyor.v1.Conveyor` while Redis answers (the same check as `/readyz`'s Redis part; without
/// Redis no RPC can work), NOT_SERVING otherwise; NOT_FOUND for another service name. Watch sends
/// the status, then each change (checked every second) until the call ends.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    let api: ConveyorAPI
    let stop: StreamStop

    public init(api: ConveyorAPI, stop: StreamStop = StreamStop()) {
        self.api = api
        self.stop = stop
    }

    static let services = ["", Conveyor_V1_Conveyor.descriptor.fullyQualifiedService]

    func status() async -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        let answer = await ConveyorAPI.check(seconds: 2) { [api] in _ = try await api.broker.pool.command("PING") }
        return answer == "ok" ? .serving : .notServing
    }

    public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse
    {
        guard Self.services.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
        }
        let status = await status()
        return .with { $0.status = status }
    }

    public func list(request: Grpc_Health_V1_HealthListRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthListResponse {
        let status = await status()
        return .with { response in
            for service in Self.services { response.statuses[service] = .with { $0.status = status } }
        }
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext
    ) async throws {
        try await stop.run(RPCError(code: .unavailable, message: "the server is shutting down")) {
            var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
            while !Task.isCancelled {
                let status = Self.services.contains(request.service) ? await status() : .serviceUnknown
                if status != last {
                    try await response.write(.with { $0.status = status })
                    last = status
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
