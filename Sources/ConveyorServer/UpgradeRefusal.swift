import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

// Own handling, because the library cannot do it: hummingbird-websocket 2.x answers every refused
// WebSocket upgrade itself, with a fixed status and an empty body (`writeFailedUpgrade` in
// `HTTP1WebSocketUpgradeChannel`: 400 in the version we build with, 200 since its PR #107). The
// router's `shouldUpgrade` can only say yes or no, the channel keeps its upgrade result internal, so
// a wrapping channel cannot answer in its place either. The issue wants a refused handshake to say
// why (401, 403, 429, 400, each a problem+json body) with no upgrade. Two small handlers do that:
// `UpgradeRefusal`, first in every connection's pipeline, keeps the problem the upgrade check found;
// `RefusedUpgradeWriter`, one of the HTTP handlers the upgrade channel installs when it does not
// upgrade, turns the library's empty answer into that problem. Connections whose upgrade we did not
// refuse pass through both untouched.

/// Per connection: the problem the `GET /v1/events` upgrade check refused the handshake with, kept
/// until the library writes its answer (see the note above). Touched on the channel's event loop only.
final class UpgradeRefusal: ChannelInboundHandler, RemovableChannelHandler {
    // Inbound only because NIO wants a direction; every read passes through untouched.
    typealias InboundIn = ByteBuffer
    var problem: APIProblem?

    /// Records on `channel` why its upgrade is refused (before `shouldUpgrade` says no).
    static func record(_ problem: APIProblem, on channel: any Channel) async {
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: UpgradeRefusal.self).problem = problem
        }.get()
    }
}

/// Replaces the answer hummingbird-websocket writes for a refused upgrade (status, no body) with the
/// recorded problem: its status, headers (`WWW-Authenticate`, `Retry-After`, `RateLimit-*`) and
/// problem+json body; the connection still closes after it.
final class RefusedUpgradeWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    /// The answer to write instead, when this connection's upgrade was refused by us.
    private var refusal: (head: HTTPResponse, body: ByteBuffer)?

    func handlerAdded(context: ChannelHandlerContext) {
        // Installed once the upgrade was decided, so the refusal (if any) is already recorded.
        guard let problem = try? context.pipeline.syncOperations.handler(type: UpgradeRefusal.self).problem else { return }
        let body = ByteBuffer(string: ((try? JSONResponse.encoder.string(problem)) ?? "{}") + "\n")
        var fields = problem.headers
        fields[.contentType] = "application/problem+json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        refusal = (HTTPResponse(status: problem.status, headerFields: fields), body)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let refusal else { return context.write(data, promise: promise) }
        switch unwrapOutboundIn(data) {
        case .head:
            context.write(wrapOutboundOut(.head(refusal.head)), promise: promise)
        case .body:
            promise?.succeed()
        case .end(let trailers):
            context.write(wrapOutboundOut(.body(refusal.body)), promise: nil)
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
            self.refusal = nil
        }
    }
}

/// A server child channel that puts an `UpgradeRefusal` first in every connection's pipeline.
struct UpgradeRefusalChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(UpgradeRefusal(), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
}
