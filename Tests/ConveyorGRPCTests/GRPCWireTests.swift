import ConveyorTestSupport
import Foundation
import GRPCCore
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf
import Synchronization
import Testing

@testable import ConveyorGRPC

/// `GRPCHTTP2Server` on the wire, through a bare HTTP/2 client that sends exactly the frames a test
/// gives (what no gRPC library would send: compressed flags, two messages for a unary call, a bad
/// content type, a reset mid-call) and records every frame the server answers with.
@Suite("gRPC server on the wire")
struct GRPCWireTests {
    static let echo = MethodDescriptor(fullyQualifiedService: "test.Wire", method: "Echo")
    static let hang = MethodDescriptor(fullyQualifiedService: "test.Wire", method: "Hang")
    static let fail = MethodDescriptor(fullyQualifiedService: "test.Wire", method: "Fail")
    static let slow = MethodDescriptor(fullyQualifiedService: "test.Wire", method: "Slow")
    static let stream = MethodDescriptor(fullyQualifiedService: "test.Wire", method: "Stream")
    static let checked = MethodDescriptor(fullyQualifiedService: "test.Wire", method: "Checked")

    /// What the handlers saw: how many `Hang` calls were cancelled, how many `Stream` messages went out.
    final class Seen: Sendable {
        let cancelled = Mutex(0)
        let streamed = Mutex(0)
    }

    /// A server with the test methods; `body` gets its port.
    func withServer(maxMessageBytes: Int = 4 << 20, _ body: (GRPCHTTP2Server, Int, Seen) async throws -> Void) async throws {
        let seen = Seen()
        var routes = GRPCRoutes { _, call in
            guard call.metadata[stringValues: "authorization"].first(where: { _ in true }) == "Bearer yes" else {
                throw RPCError(code: .unauthenticated, message: "no key")
            }
        }
        routes.unary(Self.echo, checked: false) { (request: Conveyor_V1_EnqueueRequest, _) in
            Conveyor_V1_EnqueueResponse.with { $0.id = request.type + ":" + String(request.payloadJson.count) }
        }
        routes.unary(Self.hang, checked: false) { (_: Conveyor_V1_EnqueueRequest, _) -> Conveyor_V1_EnqueueResponse in
            do { try await Task.sleep(for: .seconds(60)) } catch {
                seen.cancelled.withLock { $0 += 1 }
                throw error
            }
            return .init()
        }
        routes.unary(Self.fail, checked: false) { (_: Conveyor_V1_EnqueueRequest, _) -> Conveyor_V1_EnqueueResponse in
            throw RPCError(code: .notFound, message: "nöpe 100%\n", metadata: ["field": "id"])
        }
        routes.unary(Self.slow, checked: false) { (_: Conveyor_V1_EnqueueRequest, _) in
            try await Task.sleep(for: .milliseconds(500))
            return Conveyor_V1_EnqueueResponse.with { $0.id = "slow" }
        }
        routes.serverStreaming(Self.stream, checked: false) {
            (request: Conveyor_V1_EnqueueRequest, writer: RPCWriter<Conveyor_V1_EnqueueResponse>, _) in
            for i in 0..<Int(request.maxAttempts) {
                try await writer.write(.with { $0.id = String(repeating: "x", count: 1000) + String(i) })
                seen.streamed.withLock { $0 += 1 }
            }
        }
        routes.unary(Self.checked) { (_: Conveyor_V1_EnqueueRequest, _) in Conveyor_V1_EnqueueResponse.with { $0.id = "in" } }
        let server = GRPCHTTP2Server(
            methods: routes.methods, host: "127.0.0.1", port: 0, maxMessageBytes: maxMessageBytes, graceSeconds: 5,
            logger: Logger(label: "test"))
        let port = try await server.bind()
        do {
            try await body(server, port, seen)
        } catch {
            server.closeAll()
            throw error
        }
        server.closeAll()
    }

    // MARK: calls that work

    @Test func unaryCallsAnswerOnTheirOwnStreamsWithMessagesSplitAcrossFrames() async throws {
        try await withServer { _, port, _ in
            let client = try await WireClient.connect(port: port)
            // 20 calls at once; each message arrives in 3 DATA frames cut mid-prefix and mid-body.
            for n in 0..<20 {
                let stream = 1 + 2 * n
                let bytes = WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.type = "job\(n)" })
                try await client.headers(stream, WireClient.request(Self.echo))
                try await client.data(stream, Array(bytes[0..<3]))
                try await client.data(stream, Array(bytes[3..<8]))
                try await client.data(stream, Array(bytes[8...]), end: true)
            }
            for n in 0..<20 {
                let answer = try await client.answer(1 + 2 * n)
                #expect(answer.headers.first?.first(name: ":status") == "200")
                #expect(answer.headers.first?.first(name: "content-type") == "application/grpc")
                #expect(answer.status == "0")
                #expect(try answer.messages(as: Conveyor_V1_EnqueueResponse.self).map(\.id) == ["job\(n):0"])
            }
            try await client.close()
        }
    }

    @Test func largeMessagesPassTheFlowControlWindows() async throws {
        try await withServer { _, port, _ in
            let client = try await WireClient.connect(port: port)
            // 3 MiB: past the server's stream window (1 MiB), and three of them past its connection
            // window (8 MiB), so they pass only if the server gives window back as it reads.
            let payload = String(repeating: "p", count: 3 << 20)
            for stream in [1, 3, 5] {
                try await client.headers(stream, WireClient.request(Self.echo))
                try await client.data(stream, WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.payloadJson = payload }), end: true)
                let answer = try await client.answer(stream, timeout: 20)
                #expect(answer.status == "0")
                #expect(try answer.messages(as: Conveyor_V1_EnqueueResponse.self).map(\.id) == [":\(3 << 20)"])
            }
            try await client.close()
        }
    }

    @Test func aServerStreamWritesEveryMessageThenOK() async throws {
        try await withServer { _, port, seen in
            let client = try await WireClient.connect(port: port)
            try await client.headers(1, WireClient.request(Self.stream))
            try await client.data(1, WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.maxAttempts = 50 }), end: true)
            let answer = try await client.answer(1)
            #expect(answer.status == "0")
            #expect(try answer.messages(as: Conveyor_V1_EnqueueResponse.self).count == 50)
            #expect(seen.streamed.withLock { $0 } == 50)
            try await client.close()
        }
    }

    // MARK: refusals

    @Test func requestsThatAreNotCallsGetClearAnswers() async throws {
        try await withServer(maxMessageBytes: 1_000) { _, port, _ in
            let client = try await WireClient.connect(port: port)
            let one = WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.type = "a" })

            try await client.headers(1, WireClient.request(path: "/test.Wire/Nope"))
            var answer = try await client.answer(1)
            #expect(answer.status == "12")  // UNIMPLEMENTED, trailers-only
            #expect(answer.headers.count == 1 && answer.headers[0].first(name: ":status") == "200")
            #expect(answer.message == "unknown method '/test.Wire/Nope'")

            try await client.headers(3, WireClient.request(Self.echo, contentType: "application/json"))
            #expect(try await client.answer(3).headers.first?.first(name: ":status") == "415")

            try await client.headers(5, WireClient.request(Self.echo, method: "GET"), end: true)
            #expect(try await client.answer(5).headers.first?.first(name: ":status") == "405")

            try await client.headers(7, WireClient.request(Self.echo, extra: [("grpc-encoding", "gzip")]))
            answer = try await client.answer(7)
            #expect(answer.status == "12")
            #expect(answer.headers.last?.first(name: "grpc-accept-encoding") == "identity")

            try await client.headers(9, WireClient.request(Self.echo))
            try await client.data(9, [1] + one.dropFirst(), end: true)  // compressed flag, no grpc-encoding
            #expect(try await client.answer(9).status == "13")

            try await client.headers(11, WireClient.request(Self.echo))
            try await client.data(
                11, WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.payloadJson = String(repeating: "p", count: 2_000) }))
            answer = try await client.answer(11)
            #expect(answer.status == "8")  // RESOURCE_EXHAUSTED, and the stream reset: the client need not send the rest
            #expect(answer.message?.contains("over the limit of 1000") == true)
            #expect(answer.reset == .noError)

            try await client.headers(13, WireClient.request(Self.echo))
            try await client.data(13, one + one, end: true)
            #expect(try await client.answer(13).status == "13")  // two messages for a unary call

            try await client.headers(15, WireClient.request(Self.echo), end: true)
            #expect(try await client.answer(15).status == "13")  // none

            try await client.headers(17, WireClient.request(Self.echo))
            try await client.data(17, Array(one.dropLast()), end: true)
            #expect(try await client.answer(17).status == "13")  // ends inside a message

            try await client.headers(19, WireClient.request(Self.echo))
            try await client.data(19, [0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF], end: true)
            #expect(try await client.answer(19).status == "3")  // not a protobuf message

            try await client.headers(21, WireClient.request(Self.echo, extra: [("grpc-timeout", "soon")]), end: true)
            #expect(try await client.answer(21).status == "3")

            // The connection still serves calls after all of that.
            try await client.headers(23, WireClient.request(Self.echo))
            try await client.data(23, one, end: true)
            #expect(try await client.answer(23).status == "0")
            try await client.close()
        }
    }

    @Test func errorsCarryTheirCodeEncodedMessageAndMetadata() async throws {
        try await withServer { _, port, _ in
            let client = try await WireClient.connect(port: port)
            try await client.headers(1, WireClient.request(Self.fail))
            try await client.data(1, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            let answer = try await client.answer(1)
            #expect(answer.status == "5")
            #expect(answer.message == "n%C3%B6pe 100%25%0A")  // PROTOCOL-HTTP2: UTF-8, percent-encoded
            #expect(answer.headers.last?.first(name: "field") == "id")

            try await client.headers(3, WireClient.request(Self.checked))
            try await client.data(3, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            #expect(try await client.answer(3).status == "16")
            try await client.headers(5, WireClient.request(Self.checked, extra: [("authorization", "Bearer yes")]))
            try await client.data(5, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            #expect(try await client.answer(5).status == "0")
            try await client.close()
        }
    }

    // MARK: calls that end early

    @Test func aDeadlineEndsTheCallAndCancelsItsHandler() async throws {
        try await withServer { _, port, seen in
            let client = try await WireClient.connect(port: port)
            let started = ContinuousClock.now
            try await client.headers(1, WireClient.request(Self.hang, extra: [("grpc-timeout", "300m")]))
            try await client.data(1, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            let answer = try await client.answer(1)
            #expect(answer.status == "4")  // DEADLINE_EXCEEDED
            #expect(ContinuousClock.now - started < .seconds(5))
            try await eventually(timeout: 5) { seen.cancelled.withLock { $0 } == 1 }
            try await client.close()
        }
    }

    @Test func aResetOrAClosedConnectionCancelsTheHandler() async throws {
        try await withServer { _, port, seen in
            let client = try await WireClient.connect(port: port)
            try await client.headers(1, WireClient.request(Self.hang))
            try await client.data(1, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            try await client.headers(3, WireClient.request(Self.hang))
            try await client.data(3, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            try await Task.sleep(for: .milliseconds(200))
            try await client.send(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
            try await eventually(timeout: 5) { seen.cancelled.withLock { $0 } == 1 }
            try await client.close()
            try await eventually(timeout: 5) { seen.cancelled.withLock { $0 } == 2 }
        }
    }

    @Test func aReaderThatNeverReadsHoldsOnlyItsOwnStream() async throws {
        try await withServer { _, port, seen in
            // This client's stream window is 4 KiB and it never gives any back.
            let stuck = try await WireClient.connect(port: port, initialWindow: 4_096)
            try await stuck.headers(1, WireClient.request(Self.stream))
            try await stuck.data(1, WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.maxAttempts = 1_000 }), end: true)
            // Four messages of ~1,011 bytes fit in the window; the fifth's write waits for room.
            try await eventually(timeout: 10, "the writer did not fill the window") { seen.streamed.withLock { $0 } == 4 }
            // Other calls, on the same connection and on another, are answered meanwhile.
            try await stuck.headers(3, WireClient.request(Self.echo))
            try await stuck.data(3, WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.type = "x" }), end: true)
            #expect(try await stuck.answer(3).status == "0")
            let other = try await WireClient.connect(port: port)
            try await other.headers(1, WireClient.request(Self.echo))
            try await other.data(1, WireClient.message(Conveyor_V1_EnqueueRequest.with { $0.type = "y" }), end: true)
            #expect(try await other.answer(1).status == "0")
            try await Task.sleep(for: .milliseconds(200))
            #expect(seen.streamed.withLock { $0 } == 4, "the writer went on past the client's window")
            try await other.close()
            try await stuck.close()
        }
    }

    @Test func gracefulShutdownLetsRunningCallsFinishThenCloses() async throws {
        try await withServer { server, port, _ in
            let client = try await WireClient.connect(port: port)
            try await client.headers(1, WireClient.request(Self.slow))
            try await client.data(1, WireClient.message(Conveyor_V1_EnqueueRequest()), end: true)
            try await Task.sleep(for: .milliseconds(100))
            server.beginGracefulShutdown()
            let answer = try await client.answer(1)
            #expect(answer.status == "0")
            #expect(try answer.messages(as: Conveyor_V1_EnqueueResponse.self).map(\.id) == ["slow"])
            #expect(client.goAways().count >= 1)
            try await client.closed(timeout: 5)
            try await server.waitUntilStopped()
            // No longer listening.
            await #expect(throws: (any Error).self) { _ = try await WireClient.connect(port: port) }
        }
    }
}

/// A bare HTTP/2 client (NIOHTTP2Handler in client mode, no gRPC on top) for `GRPCWireTests`.
final class WireClient: Sendable {
    let channel: any Channel
    let recorder: Recorder

    /// What the server sent on one stream.
    struct Answer {
        var headers: [HPACKHeaders] = []
        var data: [UInt8] = []
        var ended = false
        var reset: HTTP2ErrorCode?

        var status: String? { headers.last?.first(name: "grpc-status") }
        var message: String? { headers.last?.first(name: "grpc-message") }

        func messages<M: SwiftProtobuf.Message>(as: M.Type) throws -> [M] {
            var out: [M] = []
            var rest = data[...]
            while rest.count >= 5 {
                let length = rest.dropFirst().prefix(4).reduce(0) { $0 << 8 | Int($1) }
                out.append(try M(serializedBytes: Array(rest.dropFirst(5).prefix(length))))
                rest = rest.dropFirst(5 + length)
            }
            return out
        }
    }

    final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame
        let answers = Mutex<[Int: Answer]>([:])
        let goAways = Mutex<[HTTP2StreamID]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let id = Int(frame.streamID)
            switch frame.payload {
            case .headers(let headers):
                answers.withLock {
                    $0[id, default: Answer()].headers.append(headers.headers)
                    if headers.endStream { $0[id]?.ended = true }
                }
            case .data(let payload):
                guard case .byteBuffer(var buffer) = payload.data else { return }
                let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
                answers.withLock {
                    $0[id, default: Answer()].data += bytes
                    if payload.endStream { $0[id]?.ended = true }
                }
            case .rstStream(let code):
                answers.withLock { $0[id, default: Answer()].reset = code }
            case .goAway(let last, _, _):
                goAways.withLock { $0.append(last) }
            default:
                break
            }
        }
    }

    init(channel: any Channel, recorder: Recorder) {
        self.channel = channel
        self.recorder = recorder
    }

    static func connect(port: Int, initialWindow: Int = 65_535) async throws -> WireClient {
        let recorder = Recorder()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOHTTP2Handler(mode: .client, initialSettings: [HTTP2Setting(parameter: .initialWindowSize, value: initialWindow)])
                    )
                    try channel.pipeline.syncOperations.addHandler(recorder)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return WireClient(channel: channel, recorder: recorder)
    }

    static func request(
        _ method: MethodDescriptor? = nil, path: String? = nil, method verb: String = "POST", contentType: String = "application/grpc",
        extra: [(String, String)] = []
    ) -> HPACKHeaders {
        var headers: HPACKHeaders = [
            ":method": verb, ":scheme": "http", ":authority": "localhost", ":path": path ?? GRPCRoutes.path(method!),
            "content-type": contentType, "te": "trailers",
        ]
        for (name, value) in extra { headers.add(name: name, value: value) }
        return headers
    }

    static func message(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        let bytes: [UInt8] = (try? message.serializedBytes()) ?? []
        let n = UInt32(bytes.count)
        return [0, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    func send(_ frame: HTTP2Frame) async throws { try await channel.writeAndFlush(frame) }

    func headers(_ stream: Int, _ headers: HPACKHeaders, end: Bool = false) async throws {
        try await send(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: headers, endStream: end))))
    }

    func data(_ stream: Int, _ bytes: [UInt8], end: Bool = false) async throws {
        let buffer = channel.allocator.buffer(bytes: bytes)
        // Not awaited: a write the server's window has no room for waits in NIOHTTP2Handler.
        channel.writeAndFlush(
            HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .data(.init(data: .byteBuffer(buffer), endStream: end))), promise: nil)
    }

    /// The server's whole answer on `stream` (its end: trailers with END_STREAM, or a reset).
    func answer(_ stream: Int, timeout: Double = 10) async throws -> Answer {
        var answer: Answer?
        try await eventually(timeout: timeout, "no complete answer on stream \(stream)") {
            answer = recorder.answers.withLock { $0[stream] }
            return answer?.ended == true || answer?.reset != nil
        }
        return answer!
    }

    func goAways() -> [HTTP2StreamID] { recorder.goAways.withLock { $0 } }

    func closed(timeout: Double) async throws {
        try await eventually(timeout: timeout, "the server did not close the connection") { !channel.isActive }
    }

    func close() async throws { try? await channel.close() }
}
