import GRPCCore
import NIOCore
import SwiftProtobuf

/// One method `GRPCHTTP2Server` serves, by its path `/<service>/<method>`: how its requests arrive
/// and the handler that answers it. Built from typed handlers with `GRPCRoutes`.
struct GRPCMethod: Sendable {
    /// Unary and server-streaming calls get their one request message when the client has sent it
    /// all; a bidirectional call gets its messages as they arrive.
    enum Kind: Sendable {
        case unary, serverStreaming, bidirectionalStreaming
    }

    let descriptor: MethodDescriptor
    let kind: Kind
    /// Runs the call. Returns the last response message, sent together with the OK status (one
    /// write for a unary call), or nil when every message was written with `call.responses`.
    /// A thrown `RPCError` becomes the call's status; any other error is UNKNOWN.
    let handler: @Sendable (GRPCCall) async throws -> [UInt8]?
}

/// What a running call sees: its request, metadata, peer, and where its responses go.
struct GRPCCall: Sendable {
    let context: ServerContext
    /// The request headers that are metadata (no pseudo-headers, none of gRPC's reserved ones).
    let metadata: Metadata
    /// The client's IP address (the rate budget of a client without a key is its address's).
    let address: String
    /// The request message of a unary or server-streaming call.
    let request: [UInt8]
    /// The request messages of a bidirectional call, as they arrive (empty for the others).
    let requests: AsyncThrowingStream<[UInt8], any Error>
    let responses: GRPCResponseWriter
}

/// Writes response messages of one call to its HTTP/2 stream. Each write waits until the bytes
/// went to the socket, so a client that stops reading (its HTTP/2 window closed) holds its writer
/// and nobody else: backpressure, as `RPCWriter` promises. Fails once the call has ended.
struct GRPCResponseWriter: Sendable {
    let send: @Sendable ([UInt8], EventLoopPromise<Void>) -> Void
    let eventLoop: any EventLoop

    func write(_ message: [UInt8]) async throws {
        let promise = eventLoop.makePromise(of: Void.self)
        send(message, promise)
        try await promise.futureResult.get()
    }
}

/// A typed `RPCWriter` over a call's `GRPCResponseWriter`: serialises each message with protobuf.
struct ProtobufResponseWriter<Response: SwiftProtobuf.Message & Sendable>: RPCWriterProtocol {
    let writer: GRPCResponseWriter

    func write(_ element: Response) async throws { try await writer.write(try element.serializedBytes()) }

    func write(contentsOf elements: some Sequence<Response>) async throws {
        for element in elements { try await write(element) }
    }
}

/// Builds the method table of `GRPCHTTP2Server` from typed handlers (the shapes of grpc-swift's
/// generated `SimpleServiceProtocol` methods), running `check` before each handler of a method
/// that is not `public` (access: keys, roles, rate budgets).
struct GRPCRoutes {
    private(set) var methods: [String: GRPCMethod] = [:]
    /// Runs before the handler of every method added with `checked: true`; throws to refuse the call.
    let check: @Sendable (MethodDescriptor, GRPCCall) async throws -> Void

    init(check: @escaping @Sendable (MethodDescriptor, GRPCCall) async throws -> Void = { _, _ in }) {
        self.check = check
    }

    static func path(_ descriptor: MethodDescriptor) -> String { "/\(descriptor.service)/\(descriptor.method)" }

    static func decode<Request: SwiftProtobuf.Message>(_ bytes: [UInt8], as: Request.Type) throws -> Request {
        do { return try Request(serializedBytes: bytes) } catch {
            throw RPCError(code: .invalidArgument, message: "the request is not a valid \(Request.protoMessageName) message")
        }
    }

    mutating func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ descriptor: MethodDescriptor, checked: Bool = true,
        _ body: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        let check = checked ? self.check : nil
        methods[Self.path(descriptor)] = GRPCMethod(descriptor: descriptor, kind: .unary) { call in
            try await check?(descriptor, call)
            let request = try Self.decode(call.request, as: Request.self)
            return try await body(request, call.context).serializedBytes()
        }
    }

    mutating func serverStreaming<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message & Sendable>(
        _ descriptor: MethodDescriptor, checked: Bool = true,
        _ body: @escaping @Sendable (Request, RPCWriter<Response>, ServerContext) async throws -> Void
    ) {
        let check = checked ? self.check : nil
        methods[Self.path(descriptor)] = GRPCMethod(descriptor: descriptor, kind: .serverStreaming) { call in
            try await check?(descriptor, call)
            let request = try Self.decode(call.request, as: Request.self)
            try await body(request, RPCWriter(wrapping: ProtobufResponseWriter<Response>(writer: call.responses)), call.context)
            return nil
        }
    }

    mutating func bidirectionalStreaming<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ descriptor: MethodDescriptor, checked: Bool = true,
        _ body: @escaping @Sendable (RPCAsyncSequence<Request, any Error>, RPCWriter<Response>, ServerContext) async throws -> Void
    ) {
        let check = checked ? self.check : nil
        methods[Self.path(descriptor)] = GRPCMethod(descriptor: descriptor, kind: .bidirectionalStreaming) { call in
            try await check?(descriptor, call)
            let requests = call.requests.map { try Self.decode($0, as: Request.self) }
            try await body(
                RPCAsyncSequence(wrapping: requests), RPCWriter(wrapping: ProtobufResponseWriter<Response>(writer: call.responses)),
                call.context)
            return nil
        }
    }
}
