import ConveyorServer
import GRPCCore

/// Checks every `conveyor.v1.Conveyor` call the way REST checks a route: the `authorization:
/// Bearer KEY` metadata, the same rate budget per key (or per address), and the method's role from
/// `roles`. Health and reflection are public. Refusals are UNAUTHENTICATED, PERMISSION_DENIED or
/// RESOURCE_EXHAUSTED (with `retry-after` seconds).
public struct AccessInterceptor: ServerInterceptor {
    let api: ConveyorAPI

    public init(api: ConveyorAPI) { self.api = api }

    /// The role each method of the service needs; a test checks it names every method.
    public static let roles: [String: APIRole] = [
        "Enqueue": .submit, "EnqueueBatch": .submit, "GetJob": .read, "ListJobs": .read, "UpdateJob": .admin, "CancelJob": .admin,
        "RetryJob": .admin, "ListQueues": .read, "PauseQueue": .admin, "ResumeQueue": .admin, "ListDead": .read, "RetryDead": .admin,
        "DeleteDead": .admin, "ListWorkers": .read, "GetStats": .read, "ListSchedules": .read, "GetSchedule": .read,
        "CreateSchedule": .admin, "UpdateSchedule": .admin, "DeleteSchedule": .admin, "PauseSchedule": .admin,
        "ResumeSchedule": .admin, "RunSchedule": .admin, "WatchEvents": .read,
    ]

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard context.descriptor.service == Conveyor_V1_Conveyor.descriptor else { return try await next(request, context) }
        guard let role = Self.roles[context.descriptor.method] else {
            throw RPCError(code: .permissionDenied, message: "no role is defined for \(context.descriptor.method)")
        }
        do {
            _ = try await api.authorize(
                authorization: request.metadata[stringValues: "authorization"].first(where: { _ in true }),
                address: Self.address(of: context.remotePeer), role: role)
        } catch let problem as APIProblem {
            throw RPCError(problem)
        } catch {
            throw RPCError(api.problem(for: error, operation: "grpc auth"))
        }
        return try await next(request, context)
    }

    /// The IP address in a gRPC peer string (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`), so a
    /// client's budget is the same one its REST requests spend.
    static func address(of peer: String) -> String {
        if peer.hasPrefix("ipv4:") {
            let rest = peer.dropFirst(5)
            return String(rest.split(separator: ":").first ?? rest)
        }
        if peer.hasPrefix("ipv6:[") {
            let rest = peer.dropFirst(6)
            return String(rest.split(separator: "]").first ?? rest)
        }
        return peer
    }
}
