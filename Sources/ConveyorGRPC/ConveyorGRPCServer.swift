import ConveyorServer
import GRPCCore
import Logging
import ServiceLifecycle

/// The gRPC server of `conveyor serve` (`--grpc-port`, plaintext HTTP/2): `conveyor.v1.Conveyor`,
/// `grpc.health.v1.Health` and server reflection, on the same `ConveyorAPI` as the REST server,
/// served by `GRPCHTTP2Server` (see there why not grpc-swift's `GRPCServer`). A ServiceLifecycle
/// `Service`: graceful shutdown lets running calls finish; the long-lived streams (`WatchEvents`,
/// health `Watch`) end with UNAVAILABLE.
public struct ConveyorGRPCServer: Service {
    let server: GRPCHTTP2Server
    /// Ends the streaming calls at shutdown, which would otherwise keep their connections open.
    let streams: StreamStop
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - host, port: where to listen (port 0 picks a free one, reported to `onListening`).
    ///   - watch: the event feed for `WatchEvents` (nil: `EventWatch`, the API's own feed).
    public init(
        api: ConveyorAPI, host: String, port: Int, watch: (any EventWatching)? = nil, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let streams = StreamStop()
        self.streams = streams
        var routes = GRPCRoutes { descriptor, call in
            try await GRPCAccess.check(api: api, method: descriptor.method, metadata: call.metadata, address: call.address)
        }
        ConveyorService(api: api, watch: watch ?? EventWatch(api: api, stop: streams)).register(in: &routes)
        HealthService(api: api, stop: streams).register(in: &routes)
        try ReflectionService(services: [
            Conveyor_V1_Conveyor.descriptor.fullyQualifiedService, Grpc_Health_V1_Health.descriptor.fullyQualifiedService,
            Grpc_Reflection_V1alpha_ServerReflection.descriptor.fullyQualifiedService,
        ]).register(in: &routes)
        server = GRPCHTTP2Server(methods: routes.methods, host: host, port: port, logger: logger)
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                let port = try await server.bind()
                logger.info("gRPC listening", metadata: ["port": "\(port)"])
                await onListening(port)
                try await server.waitUntilStopped()
            } onGracefulShutdown: {
                streams.stop()
                server.beginGracefulShutdown()
            }
        } onCancel: {
            streams.stop()
            server.closeAll()
        }
    }
}

extension ConveyorService {
    /// Adds every method of `conveyor.v1.Conveyor` (each checked by `GRPCAccess`).
    func register(in routes: inout GRPCRoutes) {
        typealias Method = Conveyor_V1_Conveyor.Method
        routes.unary(Method.Enqueue.descriptor) { try await enqueue(request: $0, context: $1) }
        routes.unary(Method.EnqueueBatch.descriptor) { try await enqueueBatch(request: $0, context: $1) }
        routes.unary(Method.GetJob.descriptor) { try await getJob(request: $0, context: $1) }
        routes.unary(Method.ListJobs.descriptor) { try await listJobs(request: $0, context: $1) }
        routes.unary(Method.UpdateJob.descriptor) { try await updateJob(request: $0, context: $1) }
        routes.unary(Method.CancelJob.descriptor) { try await cancelJob(request: $0, context: $1) }
        routes.unary(Method.RetryJob.descriptor) { try await retryJob(request: $0, context: $1) }
        routes.unary(Method.ListQueues.descriptor) { try await listQueues(request: $0, context: $1) }
        routes.unary(Method.PauseQueue.descriptor) { try await pauseQueue(request: $0, context: $1) }
        routes.unary(Method.ResumeQueue.descriptor) { try await resumeQueue(request: $0, context: $1) }
        routes.unary(Method.ListDead.descriptor) { try await listDead(request: $0, context: $1) }
        routes.unary(Method.RetryDead.descriptor) { try await retryDead(request: $0, context: $1) }
        routes.unary(Method.DeleteDead.descriptor) { try await deleteDead(request: $0, context: $1) }
        routes.unary(Method.ListWorkers.descriptor) { try await listWorkers(request: $0, context: $1) }
        routes.unary(Method.GetStats.descriptor) { try await getStats(request: $0, context: $1) }
        routes.unary(Method.ListSchedules.descriptor) { try await listSchedules(request: $0, context: $1) }
        routes.unary(Method.GetSchedule.descriptor) { try await getSchedule(request: $0, context: $1) }
        routes.unary(Method.CreateSchedule.descriptor) { try await createSchedule(request: $0, context: $1) }
        routes.unary(Method.UpdateSchedule.descriptor) { try await updateSchedule(request: $0, context: $1) }
        routes.unary(Method.DeleteSchedule.descriptor) { try await deleteSchedule(request: $0, context: $1) }
        routes.unary(Method.PauseSchedule.descriptor) { try await pauseSchedule(request: $0, context: $1) }
        routes.unary(Method.ResumeSchedule.descriptor) { try await resumeSchedule(request: $0, context: $1) }
        routes.unary(Method.RunSchedule.descriptor) { try await runSchedule(request: $0, context: $1) }
        routes.serverStreaming(Method.WatchEvents.descriptor) { try await watchEvents(request: $0, response: $1, context: $2) }
    }
}

extension HealthService {
    /// Adds `grpc.health.v1.Health` (public: no key needed).
    func register(in routes: inout GRPCRoutes) {
        typealias Method = Grpc_Health_V1_Health.Method
        routes.unary(Method.Check.descriptor, checked: false) { try await check(request: $0, context: $1) }
        routes.unary(Method.List.descriptor, checked: false) { try await list(request: $0, context: $1) }
        routes.serverStreaming(Method.Watch.descriptor, checked: false) { try await watch(request: $0, response: $1, context: $2) }
    }
}

extension ReflectionService {
    /// Adds `grpc.reflection.v1alpha.ServerReflection` (public: no key needed).
    func register(in routes: inout GRPCRoutes) {
        routes.bidirectionalStreaming(Grpc_Reflection_V1alpha_ServerReflection.Method.ServerReflectionInfo.descriptor, checked: false) {
            try await serverReflectionInfo(request: $0, response: $1, context: $2)
        }
    }
}
