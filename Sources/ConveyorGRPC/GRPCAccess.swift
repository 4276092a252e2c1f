import ConveyorServer
import GRPCCore

/// Checks every `conveyor.v1.Conveyor` call the way REST checks a route: the `authorization:
/// Bearer KEY` metadata, the same rate budget per key (or per client address), and the method's
/// role from `roles`. Health and reflection are public. Refusals are UNAUTHENTICATED,
/// PERMISSION_DENIED or RESOURCE_EXHAUSTED (with `retry-after` seconds).
enum GRPCAccess {
    /// The role each method of the service needs; a test checks it names every method.
    static let roles: [String: APIRole] = [
        "Enqueue": .submit, "EnqueueBatch": .submit, "GetJob": .read, "ListJobs": .read, "UpdateJob": .admin, "CancelJob": .admin,
        "RetryJob": .admin, "ListQueues": .read, "PauseQueue": .admin, "ResumeQueue": .admin, "ListDead": .read, "RetryDead": .admin,
        "DeleteDead": .admin, "ListWorkers": .read, "GetStats": .read, "ListSchedules": .read, "GetSchedule": .read,
        "CreateSchedule": .admin, "UpdateSchedule": .admin, "DeleteSchedule": .admin, "PauseSchedule": .admin,
        "ResumeSchedule": .admin, "RunSchedule": .admin, "WatchEvents": .read,
    ]

    /// Throws the `RPCError` that refuses a call of `method` with this metadata from `address`.
    static func check(api: ConveyorAPI, method: String, metadata: Metadata, address: String) async throws {
        guard let role = roles[method] else {
            throw RPCError(code: .permissionDenied, message: "no role is defined for \(method)")
        }
        do {
            _ = try await api.authorize(
                authorization: metadata[stringValues: "authorization"].first(where: { _ in true }), address: address, role: role)
        } catch let problem as APIProblem {
            throw RPCError(problem)
        } catch {
            throw RPCError(api.problem(for: error, operation: "grpc auth"))
        }
    }
}
