import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// A gRPC server over plaintext HTTP/2 (prior knowledge, as grpcurl `-plaintext` and every gRPC
/// client's insecure channel speak it): NIOHTTP2 does HTTP/2 (framing, HPACK, flow control, PING,
/// SETTINGS), `GRPCConnectionHandler` does gRPC on its frames, and the methods come from
/// `GRPCRoutes` (grpc-swift's `GRPCCore` types: `RPCError`, `Metadata`, `RPCWriter`).
///
/// Written here instead of serving with grpc-swift 2's `GRPCServer`, for speed, measured: on the
/// 2-core box, with h2load sending the same unary `Enqueue`, grpc-swift 2's server stack cost
/// ~99-133 µs of CPU per call with a handler that does nothing (an HTTP/2 stream channel and an
/// async channel per call, thread hops), more than a whole REST enqueue (~85 µs); this server's
/// frame level cost ~15 µs per such call, ~31 µs with the hop to a task that a real handler needs
/// (`make bench-grpc`). grpc-swift remains the client (`conveyor bench-grpc`, the Swift tests) and
/// the source of the generated message and service code.
///
/// Limits: `maxMessageBytes` per request message (RESOURCE_EXHAUSTED past it), `maxConcurrentStreams`
/// calls per connection (SETTINGS). Graceful shutdown sends GOAWAY, lets running calls finish and
/// closes each connection when it has none left; connections still busy after `graceSeconds` are closed.
public final class GRPCHTTP2Server: Sendable {
    /// SETTINGS_INITIAL_WINDOW_SIZE: what a client may send on one stream before it must wait for
    /// the server to give window back (the handler does as soon as it has read the bytes).
    static let streamWindow = 1 << 20

    let methods: [String: GRPCMethod]
    let host: String
    let port: Int
    let maxMessageBytes: Int
    let maxConcurrentStreams: Int
    let graceSeconds: Double
    let logger: Logger
    private let state = Mutex(State())

    struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    init(
        methods: [String: GRPCMethod], host: String, port: Int, maxMessageBytes: Int = 4 << 20, maxConcurrentStreams: Int = 256,
        graceSeconds: Double = 10, logger: Logger
    ) {
        self.methods = methods
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.maxConcurrentStreams = maxConcurrentStreams
        self.graceSeconds = graceSeconds
        self.logger = logger
    }

    /// Listens; returns the port (the one asked for, or the free one picked for 0).
    func bind() async throws -> Int {
        let settings: HTTP2Settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: Self.streamWindow),
            // gRPC's usual 16 KiB of request headers.
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16 << 10),
        ]
        let methods = methods
        let maxMessageBytes = maxMessageBytes
        let logger = logger
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: settings))
                    try channel.pipeline.syncOperations.addHandler(
                        GRPCConnectionHandler(methods: methods, maxMessageBytes: maxMessageBytes, logger: logger))
                    self.track(channel)
                }
            }
            .bind(host: host, port: port).get()
        let stopNow = state.withLock { state in
            state.listener = listener
            return state.shuttingDown
        }
        if stopNow { try? await listener.close() }
        return listener.localAddress?.port ?? port
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let late = state.withLock { state in
            state.connections[id] = channel
            return state.shuttingDown
        }
        if late { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        channel.closeFuture.whenComplete { [self] _ in
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.connections[id] = nil
                guard state.connections.isEmpty, state.shuttingDown else { return [] }
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Returns when the listener is closed and every connection has closed after it.
    func waitUntilStopped() async throws {
        guard let listener = state.withLock({ $0.listener }) else { return }
        try await listener.closeFuture.get()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.connections.isEmpty { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Stops listening, tells every connection to finish its calls and close (GOAWAY), and closes
    /// the ones still open after `graceSeconds`.
    func beginGracefulShutdown() {
        let (listener, connections) = state.withLock { state in
            state.shuttingDown = true
            return (state.listener, Array(state.connections.values))
        }
        listener?.close(promise: nil)
        for connection in connections { connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        let grace = graceSeconds
        Task { [self] in
            try? await Task.sleep(for: .seconds(grace))
            closeAll()
        }
    }

    /// Closes the listener and every connection at once (running calls are cancelled).
    func closeAll() {
        let (listener, connections) = state.withLock { state in
            state.shuttingDown = true
            return (state.listener, Array(state.connections.values))
        }
        listener?.close(promise: nil)
        for connection in connections { connection.close(promise: nil) }
    }
}
