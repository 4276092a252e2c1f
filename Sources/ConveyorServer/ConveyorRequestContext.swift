import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The per-request state the API's middleware fills in: who is calling and with which role.
public struct ConveyorRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's address, for rate limiting without auth.
    public let remoteAddress: SocketAddress?
    /// The key that authenticated the request (nil without auth or on public routes).
    public var apiKey: APIKey?
    /// The handler of an accepted WebSocket upgrade (`GET /v1/events`).
    public let webSocket = WebSocketHandlerReference<ConveyorRequestContext>()
    /// The connection, where a refused WebSocket upgrade records its reason (`UpgradeRefusal`).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// Bodies are read by the routes themselves, with their own limits.
    public var maxUploadSize: Int { 64 << 20 }
}
