import Conveyor
import ConveyorHistory
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// `POST /v1/events/token`'s answer: a one-time token for `GET /v1/events?token=…`.
public struct EventTokenBody: Encodable, Sendable {
    public var token: String
    public var expiresAt: Date
}

extension ConveyorAPI {
    /// How long an events token stays valid.
    static let eventTokenSeconds = 60

    /// `POST /v1/events/token`: a random token, kept in Redis (as its SHA-256, with the caller's role)
    /// for 60 s, that opens one WebSocket: browsers cannot send an Authorization header with one.
    func issueEventToken(_ context: ConveyorRequestContext) async throws -> Response {
        var bytes = [UInt8](repeating: 0, count: 24)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let token = bytes.map { String(format: "%02x", $0) }.joined()
        // The token carries its issuer's role and digest (so its socket spends the issuer's rate budget).
        let issuer = context.apiKey ?? APIKey(secret: "no-auth", role: .admin)
        _ = try await broker.pool.command(
            "SET", eventTokenKey(token), issuer.role.rawValue + ":" + issuer.digestHex, "EX", String(Self.eventTokenSeconds)
        ).throwingServerError()
        return try JSONResponse.make(
            EventTokenBody(token: token, expiresAt: Date().addingTimeInterval(Double(Self.eventTokenSeconds))), status: .created)
    }

    func eventTokenKey(_ token: String) -> String {
        broker.keys.prefix + "events-token:" + SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Spends a token: the key it was issued to (its role and digest), or nil when unknown, used or
    /// expired (GETDEL, so two sockets cannot share one).
    func redeemEventToken(_ token: String) async throws -> APIKey? {
        guard (1...200).contains(token.count) else { return nil }
        let reply = try await broker.pool.command("GETDEL", eventTokenKey(token)).throwingServerError()
        guard let value = reply.string else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let role = APIRole(rawValue: String(parts[0])) else { return nil }
        let hex = Array(parts[1].utf8)
        var digest: [UInt8] = []
        var index = 0
        while index + 1 < hex.count, let byte = UInt8(String(decoding: hex[index...index + 1], as: UTF8.self), radix: 16) {
            digest.append(byte)
            index += 2
        }
        return APIKey(digest: digest, role: role)
    }

    /// `GET /v1/events` without a WebSocket upgrade (the upgrade is taken by `webSocketRouter`):
    /// checks the query like the upgrade does, then answers 426.
    func eventsWithoutUpgrade(_ request: Request) throws -> Response {
        _ = try EventFilter(request: request)
        var problem = APIProblem(
            .upgradeRequired, "GET /v1/events is a WebSocket: send 'Connection: Upgrade' and 'Upgrade: websocket'")
        problem.headers[.upgrade] = "websocket"
        problem.headers[.connection] = "Upgrade"
        throw problem
    }

    /// The router the WebSocket upgrade consults: `GET /v1/events`, upgraded only when the caller
    /// authenticated (key or token) with the `read` role and the query is valid. A refused upgrade
    /// answers the problem the check found (401, 403, 429, 400; see `UpgradeRefusal`), with no upgrade.
    public func makeWebSocketRouter() -> Router<ConveyorRequestContext> {
        let router = Router(context: ConveyorRequestContext.self)
        let access = AccessCheck(api: self)
        router.ws(
            "/v1/events",
            shouldUpgrade: { request, context in
                do {
                    // The order of the plain GET's route: access first, then the query.
                    _ = try await access.handle(request, context: context, role: .read) { _, _ in Response(status: .ok) }
                    _ = try EventFilter(request: request)
                    return .upgrade([:])
                } catch {
                    let problem = ObservingMiddleware.problem(for: error, path: request.uri.path, logger: self.logger)
                    await UpgradeRefusal.record(problem, on: context.channel)
                    return .dontUpgrade
                }
            },
            onUpgrade: { inbound, outbound, context in
                guard let filter = try? EventFilter(request: context.request) else { return }
                let frames = FrameBatchWriter(channel: context.requestContext.channel)
                do { try await frames.install() } catch {
                    self.logger.warning("event socket: the close gate could not be installed", metadata: ["error": .string("\(error)")])
                    return
                }
                await self.streamEvents(filter: filter, inbound: inbound, outbound: outbound, frames: frames)
            })
        return router
    }

    /// Sends the feed to one socket until it closes, the server stops, or it is found too slow.
    func streamEvents(
        filter: EventFilter, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, frames writer: FrameBatchWriter
    ) async {
        let (id, subscriber) = events.subscribe(filter)
        await withTaskGroup(of: Void.self) { group in
            // The client's frames are not commands; reading them lets close and ping frames through.
            group.addTask {
                do { for try await _ in inbound {} } catch {}
                subscriber.finish(.shutdown)
            }
            group.addTask { await subscriber.waitUntilTooSlow() }
            group.addTask {
                do {
                    if let since = filter.since, filter.kinds.contains(.job) {
                        try await self.replay(since: since, filter: filter, subscriber: subscriber, write: writer.write)
                    }
                    while true {
                        switch await subscriber.next() {
                        case .success(let frames):
                            try await writer.write(frames)
                        case .failure(.tooSlow):
                            return
                        case .failure(.shutdown):
                            try? await outbound.close(.goingAway, reason: "server shutting down")
                            return
                        }
                    }
                } catch {
                    self.logger.debug("event socket closed", metadata: ["error": .string("\(error)")])
                }
            }
            await group.next()
            group.cancelAll()
        }
        events.unsubscribe(id)
        if subscriber.isTooSlow {
            // The close frame waits behind what the socket has not read: give it up to 10 s (the
            // socket may start reading again) to reach the socket, since the connection closes as
            // soon as this returns (its inbound ended with the cancelled reader), dropping what is
            // still queued.
            let reason = "too slow: its buffer stayed full for \(events.options.closeAfter)"
            let deadline = ContinuousClock.now + .seconds(10)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await outbound.close(.policyViolation, reason: reason) }
                group.addTask { try? await Task.sleep(until: deadline) }
                await group.next()
                group.cancelAll()
            }
            await writer.waitUntilFlushed(before: deadline)
        }
    }

    /// How a relay of the feed ended.
    public enum RelayEnd: Sendable { case tooSlow, shutdown, writerFailed }

    /// The feed `filter` selects, as JSON text messages (the WebSocket frames), handed to `write` one at
    /// a time: first the replay from `filter.since`, then live, through a bounded buffer of its own (a
    /// `gap` message when it falls behind). For front ends other than the WebSocket (gRPC
    /// `WatchEvents`). Returns when the reader stayed too slow, the server shuts down, `write` throws,
    /// or the calling task is cancelled.
    public func relayEvents(filter: EventFilter, write: @escaping @Sendable (String) async throws -> Void) async -> RelayEnd {
        let (id, subscriber) = events.subscribe(filter)
        defer { events.unsubscribe(id) }
        return await withTaskGroup(of: RelayEnd?.self) { group in
            group.addTask {
                await subscriber.waitUntilTooSlow()
                return .tooSlow
            }
            group.addTask {
                await withTaskCancellationHandler {
                    do {
                        if let since = filter.since, filter.kinds.contains(.job) {
                            try await self.replay(since: since, filter: filter, subscriber: subscriber) { frames in
                                for frame in frames { try await write(frame.text) }
                            }
                        }
                        while true {
                            switch await subscriber.next() {
                            case .success(let frames):
                                for frame in frames { try await write(frame.text) }
                            case .failure(.tooSlow):
                                return .tooSlow
                            case .failure(.shutdown):
                                return .shutdown
                            }
                        }
                    } catch {
                        return .writerFailed
                    }
                } onCancel: {
                    subscriber.finish(.shutdown)
                }
            }
            let end = await group.next() ?? nil
            group.cancelAll()
            return end ?? .shutdown
        }
    }

    /// Sends the stream's entries after `since` that match the filter, page by page (each page's
    /// matching frames to `write`), until the page reaches the live events the socket already
    /// buffers (the buffer skips what was replayed).
    func replay(
        since: StreamPosition, filter: EventFilter, subscriber: EventSubscriber, write: ([EventFrame]) async throws -> Void
    ) async throws {
        // Live events at or before `since` are the client's already, even when the replay finds none
        // after it (the hub may read behind a client that saw more on another replica).
        subscriber.replayed(through: since)
        var start = EventHub.replayStart(after: since)
        while true {
            let page = try await events.page(from: start, after: since)
            if let last = page.events.last, let lastPosition = StreamPosition(last.id) {
                try await write(try await events.messages(page.events, pool: broker.pool).filter { filter.matches($0.0) }.map(\.1))
                subscriber.replayed(through: lastPosition)
            }
            guard page.entries == events.options.batch, let lastEntry = page.lastEntry else { return }
            start = "(" + lastEntry
        }
    }
}
