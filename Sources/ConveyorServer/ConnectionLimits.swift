import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Closes connections whose request head does not arrive in time: once the first byte of a request
/// is read, its whole head (request line and headers) must follow within `headerTimeout`. Idle
/// keep-alive connections (no byte of a next request yet) are Hummingbird's idle timeout's business.
///
/// Two handlers share one `HeadDeadline` on the connection's event loop: `HeadDeadlineHandler`, after
/// HTTP decoding, sees request heads and response ends; it puts a `RequestBytesHandler` at the front
/// of the pipeline, which sees the raw bytes. A slow-loris client that trickles header bytes is closed
/// after `headerTimeout`, whatever it sends.
final class HeadDeadline {
    let headerTimeout: TimeAmount
    let logger: Logger
    /// Request heads read minus responses finished: 0 between requests.
    var requestsInProgress = 0
    var timer: Scheduled<Void>?

    init(headerTimeout: TimeAmount, logger: Logger) {
        self.headerTimeout = headerTimeout
        self.logger = logger
    }

    /// Bytes arrived: between requests, they start a request whose head must come in time.
    func bytesRead(_ context: ChannelHandlerContext) {
        guard requestsInProgress == 0, timer == nil else { return }
        let channel = context.channel
        let logger = logger
        let seconds = headerTimeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.scheduleTask(in: headerTimeout) {
            logger.info(
                "closing a connection whose request headers did not arrive within \(seconds) s",
                metadata: ["client": .string(channel.remoteAddress?.description ?? "?")])
            channel.close(promise: nil)
        }
    }

    func headRead() {
        requestsInProgress += 1
        timer?.cancel()
        timer = nil
    }

    func responseEnded() { requestsInProgress = max(0, requestsInProgress - 1) }

    func closed() {
        timer?.cancel()
        timer = nil
    }
}

/// The raw-byte side of `HeadDeadline` (first in the pipeline).
final class RequestBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let deadline: HeadDeadline

    init(_ deadline: HeadDeadline) { self.deadline = deadline }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline.bytesRead(context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.closed()
        context.fireChannelInactive()
    }
}

/// The HTTP side of `HeadDeadline` (after decoding); adds `RequestBytesHandler` in front.
final class HeadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    let deadline: HeadDeadline

    init(headerTimeout: TimeAmount, logger: Logger) {
        deadline = HeadDeadline(headerTimeout: headerTimeout, logger: logger)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.pipeline.syncOperations.addHandler(RequestBytesHandler(deadline), position: .first)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { deadline.headRead() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { deadline.responseEnded() }
        context.write(data, promise: promise)
    }
}

/// At most `maxConnections` open connections per server: past it the server stops accepting
/// (new clients wait in the kernel's backlog) and logs once at warning level until it is under the
/// cap again (logged at notice).
struct ConnectionCap: AvailableConnectionsDelegate {
    let maxConnections: Int
    let logger: Logger
    var count = 0
    var atCap = false

    init(maxConnections: Int, logger: Logger) {
        self.maxConnections = maxConnections
        self.logger = logger
    }

    mutating func connectionOpened() {
        count += 1
        if count >= maxConnections && !atCap {
            atCap = true
            logger.warning(
                "\(count) open HTTP connections, the cap: new connections wait until one closes (CONVEYOR_HTTP_MAX_CONNECTIONS)",
                metadata: ["max_connections": .stringConvertible(maxConnections)])
        }
    }

    mutating func connectionClosed() {
        count -= 1
        if atCap && count < maxConnections {
            atCap = false
            logger.notice("HTTP connections back under the cap", metadata: ["open": .stringConvertible(count)])
        }
    }

    func isAcceptingNewConnections() -> Bool { count < maxConnections }
}

/// The deadlines of a connection before its first request head is complete. The HTTP/WebSocket
/// upgrade channel (hummingbird-websocket) installs the HTTP handlers, `HeadDeadlineHandler` and the
/// idle timeout only once the first request head has been parsed, so on its own a connection that
/// never sends anything, or trickles its first head, would stay open. This handler, first in the
/// pipeline from the accept on, closes it after `idleTimeout` without a byte, or `headerTimeout` after
/// its first byte without the end of the head (the blank line of RFC 9112 §2.1); then it removes
/// itself and the HTTP pipeline's own handlers take over.
final class FirstHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let logger: Logger
    private var timer: Scheduled<Void>?
    private var sawBytes = false
    /// How many bytes of "\r\n\r\n" the last bytes read end with.
    private var matched = 0
    private var done = false

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount, logger: Logger) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context, after: idleTimeout, reason: "sent nothing") }

    func handlerRemoved(context: ChannelHandlerContext) { cancel() }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            let buffer = unwrapInboundIn(data)
            if !sawBytes {
                sawBytes = true
                arm(context, after: headerTimeout, reason: "did not finish its request headers")
            }
            let pattern: [UInt8] = [13, 10, 13, 10]
            for byte in buffer.readableBytesView {
                matched = byte == pattern[matched] ? matched + 1 : (byte == 13 ? 1 : 0)
                if matched == 4 {
                    done = true
                    break
                }
            }
        }
        context.fireChannelRead(data)
        if done {
            cancel()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, reason: String) {
        cancel()
        let channel = context.channel
        let logger = logger
        timer = context.eventLoop.scheduleTask(in: delay) {
            logger.info(
                "closing a connection that \(reason) within \(delay.nanoseconds / 1_000_000_000) s",
                metadata: ["client": .string(channel.remoteAddress?.description ?? "?")])
            channel.close(promise: nil)
        }
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
    }
}

/// A server child channel that puts `FirstHeadDeadlineHandler` in front of another one's pipeline.
struct FirstHeadDeadlineChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(
                FirstHeadDeadlineHandler(headerTimeout: headerTimeout, idleTimeout: idleTimeout, logger: self.logger))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
}
