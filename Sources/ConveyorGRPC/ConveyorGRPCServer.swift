import ConveyorServer
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// The gRPC server of `conveyor serve` (`--grpc-port`, plaintext HTTP/2): `conveyor.v1.Conveyor`,
/// `grpc.health.v1.Health` and server reflection, on the same `ConveyorAPI` as the REST server. A
/// ServiceLifecycle `Service`: graceful shutdown lets running calls finish. (grpc-swift's own
/// lifecycle adapter is in grpc-swift-extras, which this project may not use.)
public struct ConveyorGRPCServer: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    /// Ends the streaming calls at shutdown, which the server would otherwise wait for forever.
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
        let services: [any RegistrableRPCService] = [
            ConveyorService(api: api, watch: watch ?? EventWatch(api: api, stop: streams)), HealthService(api: api, stop: streams),
            try ReflectionService(services: [
                Conveyor_V1_Conveyor.descriptor.fullyQualifiedService, Grpc_Health_V1_Health.descriptor.fullyQualifiedService,
                Grpc_Reflection_V1alpha_ServerReflection.descriptor.fullyQualifiedService,
            ]),
        ]
        server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: host, port: port), transportSecurity: .plaintext),
            services: services, interceptors: [AccessInterceptor(api: api)])
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                if let address = try await server.listeningAddress?.ipv4 {
                    logger.info("gRPC listening", metadata: ["address": "\(address.host):\(address.port)"])
                    await onListening(address.port)
                }
            }
        } onGracefulShutdown: {
            streams.stop()
            server.beginGracefulShutdown()
        }
    }
}
