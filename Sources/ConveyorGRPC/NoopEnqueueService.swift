import GRPCCore
import GRPCProtobuf

/// `conveyor.v1.Conveyor/Enqueue` answered without doing anything (a fixed id, state QUEUED): only for
/// `make bench-grpc`, which loads it on the same server stack as `serve` (grpc-swift 2's `GRPCServer`
/// on its HTTP/2 NIO transport; a handler doing what the generated unary path does, without `serve`'s
/// access interceptor) to print what that stack costs by itself. No other method is served.
public struct NoopEnqueueService: RegistrableRPCService {
    static let response = Conveyor_V1_EnqueueResponse.with {
        $0.id = "00000000-0000-7000-8000-000000000000"
        $0.state = .queued
    }

    public init() {}

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Conveyor_V1_Conveyor.Method.Enqueue.descriptor,
            deserializer: ProtobufDeserializer<Conveyor_V1_EnqueueRequest>(),
            serializer: ProtobufSerializer<Conveyor_V1_EnqueueResponse>()
        ) { request, _ in
            // As the generated unary path does: the one request message, then one response.
            _ = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: Self.response))
        }
    }
}
