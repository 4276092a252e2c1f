import Foundation
import GRPCCore
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The gRPC side of one HTTP/2 connection of `GRPCHTTP2Server`, on NIOHTTP2's frame level: it reads
/// each stream's HEADERS and DATA frames, runs the method's handler in a task of its own, and writes
/// the response HEADERS, DATA and trailers, all on the connection's event loop. The wire format is
/// gRPC's "PROTOCOL-HTTP2" (github.com/grpc/grpc, doc/PROTOCOL-HTTP2.md): requests `POST
/// /<service>/<method>` with `content-type: application/grpc`, messages prefixed by a compressed
/// flag and a 4-byte big-endian length, the status in trailers (`grpc-status`, `grpc-message`
/// percent-encoded), or in one trailers-only HEADERS when the call fails before any response.
///
/// Inbound flow control is this handler's job on the frame level: the connection's window is raised
/// to `connectionWindow` at once and every received byte is given back (WINDOW_UPDATE) when a
/// read ends, so the limits on what a client may send are `maxMessageBytes` per message and the
/// stream count, not the window. Outbound, NIOHTTP2Handler holds DATA a client's window has no room
/// for, and the write's promise waits with it: that is the backpressure of `GRPCResponseWriter`.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// The connection-level window a client gets at once (the HTTP/2 default is 65,535 bytes).
    static let connectionWindow = 8 << 20
    /// A stream's window is given back once this much of it was used (its initial size is the
    /// server's SETTINGS_INITIAL_WINDOW_SIZE, `GRPCHTTP2Server.streamWindow`).
    static let streamCreditStep = GRPCHTTP2Server.streamWindow / 2
    /// Messages a bidirectional call may hold that its handler has not read yet.
    static let maxBufferedRequests = 256

    let methods: [String: GRPCMethod]
    let maxMessageBytes: Int
    let logger: Logger
    private var context: ChannelHandlerContext?
    private var calls: [HTTP2StreamID: Call] = [:]
    private var connectionCredit = 0
    private var lastStreamID: HTTP2StreamID = .rootStream
    private var quiescing = false
    private var inReadLoop = false
    private var flushPending = false
    private var address = ""
    private var remotePeer = ""
    private var localPeer = ""

    /// One call in progress: what arrived of its request, its task, what was sent of its response.
    final class Call {
        let id: HTTP2StreamID
        let method: GRPCMethod
        let metadata: Metadata
        /// Bytes of a message whose end has not arrived yet.
        var partial: ByteBuffer?
        /// The messages of a unary or server-streaming request (it must hold exactly one).
        var messages: [[UInt8]] = []
        let requests: AsyncThrowingStream<[UInt8], any Error>
        let inbound: AsyncThrowingStream<[UInt8], any Error>.Continuation
        var task: Task<Void, Never>?
        var deadline: Scheduled<Void>?
        var headersSent = false
        var requestEnded = false
        var credit = 0

        init(id: HTTP2StreamID, method: GRPCMethod, metadata: Metadata) {
            self.id = id
            self.method = method
            self.metadata = metadata
            (requests, inbound) = AsyncThrowingStream.makeStream(
                bufferingPolicy: .bufferingOldest(GRPCConnectionHandler.maxBufferedRequests))
        }
    }

    init(methods: [String: GRPCMethod], maxMessageBytes: Int, logger: Logger) {
        self.methods = methods
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        remotePeer = Self.peer(context.channel.remoteAddress)
        localPeer = Self.peer(context.channel.localAddress)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelAll()
        self.context = nil
    }

    static func peer(_ address: SocketAddress?) -> String {
        switch address {
        case .v4(let a)?: return "ipv4:\(a.host):\(address?.port ?? 0)"
        case .v6(let a)?: return "ipv6:[\(a.host)]:\(address?.port ?? 0)"
        case .unixDomainSocket?: return "unix:\(address?.pathname ?? "")"
        case nil: return "unknown"
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        // NIOHTTP2Handler, earlier in the pipeline, has sent its preface by now.
        write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Self.connectionWindow - 65_535)))
        context.flush()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelAll()
        context.fireChannelInactive()
    }

    private func cancelAll() {
        let all = calls.values
        calls.removeAll()
        for call in all { cancel(call) }
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadLoop = true
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if let call = calls[frame.streamID] {
                // Trailers from a client: gRPC sends none, HTTP/2 allows them; they only end the request.
                if headers.endStream { endOfRequest(call) }
            } else {
                open(frame.streamID, headers.headers, endStream: headers.endStream)
            }
        case .data(let payload):
            let size = payload.data.readableBytes + (payload.paddingBytes ?? 0)
            connectionCredit += size
            guard let call = calls[frame.streamID] else { break }
            call.credit += size
            if call.credit >= Self.streamCreditStep, !payload.endStream {
                write(HTTP2Frame(streamID: call.id, payload: .windowUpdate(windowSizeIncrement: call.credit)))
                call.credit = 0
                flushPending = true
            }
            if case .byteBuffer(let buffer) = payload.data { receive(call, buffer) }
            if payload.endStream, calls[call.id] != nil { endOfRequest(call) }
        case .rstStream:
            if let call = calls.removeValue(forKey: frame.streamID) { cancel(call) }
        default:
            break  // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY: NIOHTTP2Handler's
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadLoop = false
        if connectionCredit > 0 {
            write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: connectionCredit)))
            connectionCredit = 0
            flushPending = true
        }
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent {
            if let call = calls.removeValue(forKey: closed.streamID) { cancel(call) }
            closeIfDone()
        } else if event is ChannelShouldQuiesceEvent {
            quiesce()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            // NIOHTTP2Handler has reset that stream; the connection goes on.
            if let call = calls.removeValue(forKey: streamError.streamID) { cancel(call) }
            return
        }
        logger.debug("gRPC connection error", metadata: ["peer": "\(remotePeer)", "error": "\(error)"])
        context.close(promise: nil)
    }

    /// The first HEADERS of a stream: a new call.
    private func open(_ id: HTTP2StreamID, _ headers: HPACKHeaders, endStream: Bool) {
        if id > lastStreamID { lastStreamID = id }
        guard headers.first(name: ":method") == "POST" else { return refuse(id, httpStatus: "405", endStream: endStream) }
        guard let type = headers.first(name: "content-type"), type.hasPrefix("application/grpc") else {
            return refuse(id, httpStatus: "415", endStream: endStream)
        }
        let path = headers.first(name: ":path") ?? ""
        guard let method = methods[path] else {
            return refuse(id, RPCError(code: .unimplemented, message: "unknown method '\(path.prefix(200))'"), endStream: endStream)
        }
        if let encoding = headers.first(name: "grpc-encoding"), encoding != "identity" {
            return refuse(
                id, RPCError(code: .unimplemented, message: "compression '\(encoding.prefix(50))' is not supported: send identity"),
                endStream: endStream, extra: [("grpc-accept-encoding", "identity")])
        }
        var timeout: TimeAmount?
        if let text = headers.first(name: "grpc-timeout") {
            guard let parsed = Self.timeout(text) else {
                return refuse(
                    id, RPCError(code: .invalidArgument, message: "grpc-timeout '\(text.prefix(20))' is not a timeout"),
                    endStream: endStream)
            }
            timeout = parsed
        }
        let call = Call(id: id, method: method, metadata: Self.metadata(headers))
        calls[id] = call
        if let timeout, let context {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let error = RPCError(
                code: .deadlineExceeded, message: "the call's deadline (grpc-timeout \(timeout.nanoseconds / 1_000_000) ms) passed")
            call.deadline = context.eventLoop.scheduleTask(in: timeout) {
                guard let call = bound.value.calls[id] else { return }
                bound.value.finish(call, error)
            }
        }
        if method.kind == .bidirectionalStreaming { start(call) }
        if endStream { endOfRequest(call) }
    }

    /// Message bytes of a call: complete messages go to the call, a partial one waits.
    private func receive(_ call: Call, _ buffer: ByteBuffer) {
        var bytes: ByteBuffer
        if var partial = call.partial {
            var more = buffer
            partial.writeBuffer(&more)
            bytes = partial
        } else {
            bytes = buffer
        }
        call.partial = nil
        while bytes.readableBytes >= 5 {
            guard let flag = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
                let length = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt32.self)
            else { break }
            if flag != 0 {
                return finish(call, RPCError(code: .internalError, message: "a compressed message arrived without grpc-encoding"))
            }
            guard Int(length) <= maxMessageBytes else {
                return finish(
                    call,
                    RPCError(code: .resourceExhausted, message: "a message of \(length) bytes is over the limit of \(maxMessageBytes)"))
            }
            guard bytes.readableBytes >= 5 + Int(length) else { break }
            bytes.moveReaderIndex(forwardBy: 5)
            let message = bytes.readBytes(length: Int(length)) ?? []
            guard deliver(call, message) else { return }
        }
        if bytes.readableBytes > 0 { call.partial = bytes }
    }

    /// Hands one request message to the call; false when that ended the call.
    private func deliver(_ call: Call, _ message: [UInt8]) -> Bool {
        if call.method.kind == .bidirectionalStreaming {
            if case .dropped = call.inbound.yield(message) {
                finish(
                    call,
                    RPCError(code: .resourceExhausted, message: "more than \(Self.maxBufferedRequests) request messages wait to be read"))
                return false
            }
            return true
        }
        call.messages.append(message)
        if call.messages.count > 1 {
            finish(call, RPCError(code: .internalError, message: "more than one request message for \(call.method.descriptor.method)"))
            return false
        }
        return true
    }

    private func endOfRequest(_ call: Call) {
        call.requestEnded = true
        if let partial = call.partial, partial.readableBytes > 0 {
            return finish(call, RPCError(code: .internalError, message: "the request ended inside a message"))
        }
        if call.method.kind == .bidirectionalStreaming {
            call.inbound.finish()
        } else if call.messages.count == 1 {
            start(call)
        } else {
            finish(call, RPCError(code: .internalError, message: "the request of \(call.method.descriptor.method) held no message"))
        }
    }

    // MARK: running

    private func start(_ call: Call) {
        guard let context else { return }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let id = call.id
        let writer = GRPCResponseWriter(
            send: { message, promise in
                loop.execute { bound.value.send(message, on: id, promise: promise) }
            }, eventLoop: loop)
        let request = GRPCCall(
            context: ServerContext(descriptor: call.method.descriptor, remotePeer: remotePeer, localPeer: localPeer, cancellation: .init()),
            metadata: call.metadata, address: address, request: call.messages.first ?? [], requests: call.requests, responses: writer)
        let handler = call.method.handler
        let complete: @Sendable (Result<[UInt8]?, RPCError>) -> Void = { outcome in
            loop.execute { bound.value.complete(id, outcome) }
        }
        call.task = Task { complete(await runCall(handler, request)) }
    }

    /// The handler of call `id` returned or threw (nothing to do when the call has ended already).
    private func complete(_ id: HTTP2StreamID, _ outcome: Result<[UInt8]?, RPCError>) {
        guard let call = calls[id] else { return }
        switch outcome {
        case .success(let last):
            if let last { writeMessage(last, on: call, promise: nil) }
            finish(call, nil)
        case .failure(let error):
            finish(call, error)
        }
    }

    static func status(of error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        if let error = error as? any RPCErrorConvertible { return RPCError(error) }
        if error is CancellationError { return RPCError(code: .cancelled, message: "the call was cancelled") }
        return RPCError(code: .unknown, message: "the call failed: \(error)")
    }

    /// A response message from a streaming handler's writer (on the event loop).
    private func send(_ message: [UInt8], on id: HTTP2StreamID, promise: EventLoopPromise<Void>) {
        guard let call = calls[id] else {
            return promise.fail(RPCError(code: .cancelled, message: "the call has ended"))
        }
        writeMessage(message, on: call, promise: promise)
        flush()
    }

    private func writeMessage(_ message: [UInt8], on call: Call, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(RPCError(code: .unavailable, message: "the connection is closed"))
            return
        }
        if !call.headersSent {
            call.headersSent = true
            write(HTTP2Frame(streamID: call.id, payload: .headers(.init(headers: Self.responseHeaders))))
        }
        var buffer = context.channel.allocator.buffer(capacity: message.count + 5)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: call.id, payload: .data(.init(data: .byteBuffer(buffer))))), promise: promise)
    }

    static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]

    /// Ends a call with its status (nil: OK): trailers, or trailers-only when nothing was sent.
    private func finish(_ call: Call, _ error: RPCError?) {
        calls.removeValue(forKey: call.id)
        call.deadline?.cancel()
        call.task?.cancel()
        call.inbound.finish(throwing: CancellationError())
        var trailers = HPACKHeaders()
        if !call.headersSent {
            trailers.add(name: ":status", value: "200")
            trailers.add(name: "content-type", value: "application/grpc")
        }
        Self.addStatus(error, to: &trailers)
        write(HTTP2Frame(streamID: call.id, payload: .headers(.init(headers: trailers, endStream: true))))
        if !call.requestEnded { write(HTTP2Frame(streamID: call.id, payload: .rstStream(.noError))) }
        flush()
        closeIfDone()
    }

    /// Answers a stream that is not a call (wrong method, content type, path): trailers-only with
    /// `error`, or a bare HTTP status.
    private func refuse(
        _ id: HTTP2StreamID, _ error: RPCError? = nil, httpStatus: String = "200", endStream: Bool, extra: [(String, String)] = []
    ) {
        var headers: HPACKHeaders = [":status": httpStatus]
        if let error {
            headers.add(name: "content-type", value: "application/grpc")
            Self.addStatus(error, to: &headers)
        }
        for (name, value) in extra { headers.add(name: name, value: value) }
        write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true))))
        if !endStream { write(HTTP2Frame(streamID: id, payload: .rstStream(.noError))) }
        flush()
    }

    static func addStatus(_ error: RPCError?, to headers: inout HPACKHeaders) {
        guard let error else {
            headers.add(name: "grpc-status", value: "0")
            return
        }
        headers.add(name: "grpc-status", value: String(error.code.rawValue))
        if !error.message.isEmpty { headers.add(name: "grpc-message", value: percentEncoded(error.message)) }
        for (key, value) in error.metadata {
            switch value {
            case .string(let text): headers.add(name: key.lowercased(), value: text)
            case .binary(let bytes): headers.add(name: key.lowercased(), value: Data(bytes).base64EncodedString())
            }
        }
    }

    /// `grpc-message` encoding: UTF-8, with `%` and bytes outside 0x20-0x7E as `%XX` (PROTOCOL-HTTP2).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != 0x25 {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Request headers as metadata: no pseudo-headers and none of gRPC's own; `-bin` values decoded
    /// from base64 (padded or not).
    static func metadata(_ headers: HPACKHeaders) -> Metadata {
        var metadata = Metadata()
        for (name, value, _) in headers {
            if name.hasPrefix(":") || reserved.contains(name) { continue }
            if name.hasSuffix("-bin") {
                var text = value
                while text.count % 4 != 0 { text += "=" }
                if let data = Data(base64Encoded: text) { metadata.addBinary(Array(data), forKey: name) }
            } else {
                metadata.addString(value, forKey: name)
            }
        }
        return metadata
    }

    static let reserved: Set<String> = ["content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding"]

    /// `grpc-timeout`: 1-8 digits and a unit, H M S m u n (PROTOCOL-HTTP2).
    static func timeout(_ text: String) -> TimeAmount? {
        guard let unit = text.last, (2...9).contains(text.count), let value = Int64(text.dropLast()), value >= 0 else { return nil }
        switch unit {
        case "H": return .hours(value)
        case "M": return .minutes(value)
        case "S": return .seconds(value)
        case "m": return .milliseconds(value)
        case "u": return .microseconds(value)
        case "n": return .nanoseconds(value)
        default: return nil
        }
    }

    // MARK: ending

    private func cancel(_ call: Call) {
        call.deadline?.cancel()
        call.task?.cancel()
        call.inbound.finish(throwing: CancellationError())
    }

    /// Shutting down: no new streams (GOAWAY), the running calls finish, then the connection closes.
    private func quiesce() {
        guard !quiescing else { return }
        quiescing = true
        write(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil)))
        flush()
        closeIfDone()
    }

    private func closeIfDone() {
        guard quiescing, calls.isEmpty, let context else { return }
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func write(_ frame: HTTP2Frame) {
        context?.write(wrapOutboundOut(frame), promise: nil)
    }

    private func flush() {
        if inReadLoop { flushPending = true } else { context?.flush() }
    }
}

/// Runs a call's handler; its outcome is the last message or the status to end with.
private func runCall(_ handler: @Sendable (GRPCCall) async throws -> [UInt8]?, _ call: GRPCCall) async -> Result<[UInt8]?, RPCError> {
    do { return .success(try await handler(call)) } catch { return .failure(GRPCConnectionHandler.status(of: error)) }
}
