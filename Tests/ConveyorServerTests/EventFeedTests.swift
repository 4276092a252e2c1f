import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Crypto
import Foundation
import HummingbirdWSClient
import Logging
import RedisClient
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a test socket saw: its text frames (parsed as JSON when read), and the close code.
final class SocketLog: Sendable {
    private let state = Mutex<(texts: [String], close: Int?, ended: Bool)>(([], nil, false))

    var messages: [[String: Any]] {
        state.withLock { $0.texts }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
    var jobs: [[String: Any]] { messages.filter { $0["kind"] as? String == "job" } }
    var closeCode: Int? { state.withLock { $0.close } }
    var ended: Bool { state.withLock { $0.ended } }

    func append(_ text: String) { state.withLock { $0.texts.append(text) } }

    func end(_ code: Int?) {
        state.withLock {
            $0.close = code
            $0.ended = true
        }
    }
}

/// Opens `GET /v1/events?query` on `server` with `key` (header) while `body` runs; `pauseReading`
/// holds off reading until it returns true (a slow client).
func withSocket<T>(
    _ server: APIServer, query: String = "", key: String? = Keys.read, pauseReading: (@Sendable () -> Bool)? = nil,
    _ body: (SocketLog) async throws -> T
) async throws -> T {
    let log = SocketLog()
    let before = server.subscribers
    var configuration = WebSocketClientConfiguration()
    if let key { configuration.additionalHeaders[.authorization] = "Bearer " + key }
    let url = "ws://127.0.0.1:\(server.port)/v1/events" + (query.isEmpty ? "" : "?" + query)
    let task = Task {
        do {
            let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: quietLogger) { inbound, _, _ in
                if let pauseReading { while !pauseReading() { try await Task.sleep(for: .milliseconds(20)) } }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { log.append(text) }
                }
            }
            log.end(close.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) })
        } catch {
            log.end(-1)
        }
    }
    defer { task.cancel() }
    // Connected once the server counts the subscription (or the client gave up).
    try await eventually("the socket did not connect") { server.subscribers > before || log.ended }
    return try await body(log)
}

/// The answer to a WebSocket handshake: status, headers (lowercased names) and body (empty for a 101).
struct Handshake {
    var status = 0
    var headers: [String: String] = [:]
    var body = ""
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
}

/// Sends a WebSocket upgrade request on a plain TCP socket and reads the answer: its head, and for a
/// refusal its body (`Content-Length` bytes). Stops there, so a 101 returns as soon as it is read (no
/// stream to wait out); `seconds` bounds each read, for a busy machine. Status 0: no answer in time.
/// The socket work runs on a thread of its own (`onThread`), not on Swift's cooperative pool, where a
/// blocked read would hold up the in-process servers of every test running beside it.
func handshake(_ server: APIServer, _ query: String, key: String? = nil, seconds: Int = 15) async throws -> Handshake {
    let port = server.port
    return try await onThread { rawHandshake(port: port, query, key: key, seconds: seconds) }
}

private func rawHandshake(port: Int, _ query: String, key: String?, seconds: Int) -> Handshake {
    guard let descriptor = connectLoopback(port: port, configure: { setReceiveTimeout($0, seconds: Double(seconds)) }) else {
        return Handshake()
    }
    defer { close(descriptor) }
    let request = upgradeRequest(path: "/v1/events" + (query.isEmpty ? "" : "?" + query), key: key)
    _ = request.withCString { send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16_384)
    let end: [UInt8] = Array("\r\n\r\n".utf8)
    func headEnd() -> Int? {
        data.count < 4 ? nil : (0...(data.count - 4)).first { Array(data[$0..<($0 + 4)]) == end }
    }
    while headEnd() == nil {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count <= 0 { return Handshake() }
        data += buffer[0..<count]
    }
    let head = headEnd()!
    var answer = Handshake()
    for line in String(decoding: data[0..<head], as: UTF8.self).components(separatedBy: "\r\n") {
        if line.hasPrefix("HTTP/") {
            answer.status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        } else if let colon = line.firstIndex(of: ":") {
            answer.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    guard answer.status != 101 else { return answer }
    var body = Array(data[(head + 4)...])
    let length = answer.headers["content-length"].flatMap { Int($0) } ?? Int.max
    while body.count < length {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count <= 0 { break }
        body += buffer[0..<count]
    }
    answer.body = String(decoding: body, as: UTF8.self)
    return answer
}

/// Expects the handshake to be answered `status`: a 101, or a refusal with no upgrade whose body is
/// the problem saying why.
@discardableResult
func expectHandshake(
    _ server: APIServer, _ query: String, key: String? = nil, _ status: Int, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Handshake {
    let got = try await handshake(server, query, key: key)
    let context = "handshake ?\(query) with key \(key ?? "none"): \(got.status) \(got.body)"
    #expect(got.status == status, "\(context)", sourceLocation: sourceLocation)
    if status != 101 {
        #expect(got.headers["upgrade"] == nil, "\(context)", sourceLocation: sourceLocation)
        #expect(got.headers["content-type"] == "application/problem+json", "\(context)", sourceLocation: sourceLocation)
        #expect(got.json["status"] as? Int == status, "\(context)", sourceLocation: sourceLocation)
        #expect((got.json["detail"] as? String)?.isEmpty == false, "\(context)", sourceLocation: sourceLocation)
    }
    return got
}

/// A WebSocket client that completes the handshake on a plain TCP socket (small receive buffer) and
/// then reads nothing until told to: the slowest client there is.
final class StalledSocket: Sendable {
    let descriptor: Int32
    private let receivedBytes = Atomic<Int>(0)
    /// Bytes read so far (the handshake's answer included).
    var received: Int { receivedBytes.load(ordering: .relaxed) }

    init(port: Int, path: String, key: String) throws {
        let connected = connectLoopback(port: port) { descriptor in
            var size: Int32 = 4_096
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            // Reads end after 60 s without a byte, so a server that never closes fails the test instead
            // of hanging it.
            setReceiveTimeout(descriptor, seconds: 60)
        }
        guard let connected else { throw CancellationError() }
        descriptor = connected
        _ = upgradeRequest(path: path, key: key).withCString { send(descriptor, $0, strlen($0), 0) }
    }

    /// Every byte the server sends until it closes the connection.
    private func readToEnd() -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            data += buffer[0..<count]
            receivedBytes.add(count, ordering: .relaxed)
        }
        return data
    }

    /// Reads everything until the server closes; returns the close code of the last close frame.
    func drain() -> Int? {
        let data = readToEnd()
        // The close frame: opcode 0x88, length, then the code (2 bytes); find the last one.
        var index = data.count - 2
        while index >= 0 {
            if data[index] == 0x88, index + 3 < data.count, Int(data[index + 1]) >= 2, Int(data[index + 1]) < 126,
                index + 2 + Int(data[index + 1]) == data.count
            {
                return Int(data[index + 2]) << 8 | Int(data[index + 3])
            }
            index -= 1
        }
        return nil
    }

    /// Sends a Close frame with code 1000, masked as a client's frames must be (RFC 6455 §5.3).
    func sendClose() {
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        let code: [UInt8] = [0x03, 0xE8]
        let frame: [UInt8] = [0x88, 0x82] + key + [code[0] ^ key[0], code[1] ^ key[1]]
        _ = frame.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the server closes the connection; returns the frames after the handshake's
    /// answer, in order: opcode and payload (a server's frames are not masked).
    func frames() -> [(opcode: UInt8, payload: [UInt8])] {
        let data = readToEnd()
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        guard let head = (0...max(0, data.count - 4)).first(where: { Array(data[$0..<min(data.count, $0 + 4)]) == end }) else { return [] }
        var offset = head + 4
        var frames: [(opcode: UInt8, payload: [UInt8])] = []
        while data.count - offset >= 2 {
            var length = Int(data[offset + 1] & 0x7F)
            var header = 2
            if length == 126 {
                guard data.count - offset >= 4 else { break }
                length = Int(data[offset + 2]) << 8 | Int(data[offset + 3])
                header = 4
            } else if length == 127 {
                guard data.count - offset >= 10 else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(data[offset + 2 + $1]) }
                header = 10
            }
            guard data.count - offset >= header + length else { break }
            frames.append((data[offset] & 0x0F, Array(data[(offset + header)..<(offset + header + length)])))
            offset += header + length
        }
        return frames
    }

    deinit { close(descriptor) }
}

/// The id of every event of the namespace's event stream after the event `position`, in order.
func streamIDs(_ broker: Broker, after position: String = "0-0") async throws -> [String] {
    let start = try #require(StreamPosition(position))
    return try await events(broker).compactMap { $0["_id"] }.filter { StreamPosition($0).map { $0 > start } ?? false }
}

// Serialized: its floods are heavy, and run at once they starve the timing-sensitive suites beside them.
@Suite("Event feed: GET /v1/events over a real WebSocket", .serialized)
struct EventFeedTests {
    @Test func refusesBadKeysAndTokensAtTheHandshake() async throws {
        // A key allowed one request a minute, for the 429.
        let once = "once-key-00001"
        try await withAPI(configure: {
            $0.keys.append(APIKey(secret: once, role: .read, rateLimit: RateLimit(count: 1, periodMilliseconds: 60_000, burst: 1)))
        }) { servers in
            let server = servers[0]
            // Refused at the handshake with the reason, as the REST API answers it, and no upgrade.
            let missing = try await expectHandshake(server, "", 401)
            #expect(missing.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            try await expectHandshake(server, "", key: "wrong-key-000", 401)
            try await expectHandshake(server, "token=not-a-token", 401)
            try await expectHandshake(server, "kinds=nope", key: Keys.read, 400)
            try await expectHandshake(server, "since=yesterday", key: Keys.read, 400)
            // Access is checked first, as on the plain GET: a bad query without a key is a 401.
            try await expectHandshake(server, "kinds=nope", 401)
            try await expectHandshake(server, "", key: Keys.read, 101)
            try await expectHandshake(server, "", key: once, 101)
            let limited = try await expectHandshake(server, "", key: once, 429)
            #expect(limited.headers["retry-after"] != nil)
            // Every role has `read`, so no key is refused with 403 here (the check's 403 path is the
            // REST API's, shared through ConveyorAPI.authorize).
            // A plain GET is told to upgrade.
            expectProblem(try await server.client.with(key: Keys.read).get("/v1/events"), 426)
            expectProblem(try await server.client.with(key: nil).get("/v1/events"), 401)

            // A token opens one socket, once.
            let reply = try await server.client.with(key: Keys.read).post("/v1/events/token")
            #expect(reply.status == 201)
            let token = try #require(reply.json["token"] as? String)
            #expect(reply.json["expires_at"] is String)
            try await expectHandshake(server, "token=" + token, 101)
            // Spent: the same token no longer authenticates.
            try await expectHandshake(server, "token=" + token, 401)
            expectProblem(try await server.client.with(key: nil).get("/v1/events?token=" + token), 401)
            expectProblem(try await server.client.with(key: nil).post("/v1/events/token"), 401)

            // Valid 60 s: kept in Redis (as its SHA-256) with that time to live, and refused once gone.
            let expiring = try #require(try await server.client.with(key: Keys.read).post("/v1/events/token").json["token"] as? String)
            let digest = SHA256.hash(data: Array(expiring.utf8)).map { String(format: "%02x", $0) }.joined()
            let key = server.broker.keys.prefix + "events-token:" + digest
            let ttl = try #require(try await server.broker.pool.command("PTTL", key).int)
            #expect((55_000...60_000).contains(ttl), "time to live \(ttl) ms")
            _ = try await server.broker.pool.command("PEXPIRE", key, "1")
            try await Task.sleep(for: .milliseconds(20))
            try await expectHandshake(server, "token=" + expiring, 401)
        }
    }

    @Test func relaysJobTransitionsAndStats() async throws {
        try await withAPI(worker: true) { servers in
            let server = servers[0]
            try await withSocket(server) { log in
                try await eventually("no stats message") { log.messages.contains { $0["kind"] as? String == "stats" } }
                let ok = try await server.broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"a":1}"#, priority: .high))
                let failing = try await server.broker.enqueue(
                    EnqueueRequest(type: "fail", payload: #"{"times":5}"#, maxAttempts: 2, retryPolicy: .fixed(milliseconds: 50)))
                try await eventually(timeout: 20, "events missing") {
                    log.jobs.contains { $0["id"] as? String == ok.id && $0["event"] as? String == "succeeded" }
                        && log.jobs.contains { $0["id"] as? String == failing.id && $0["event"] as? String == "dead" }
                }
                let okEvents = log.jobs.filter { $0["id"] as? String == ok.id }
                #expect(okEvents.map { $0["event"] as? String } == ["enqueued", "started", "succeeded"])
                for event in okEvents {
                    #expect(event["type"] as? String == "echo")
                    #expect(event["queue"] as? String == "default")
                    #expect(event["priority"] as? String == "high")
                    #expect((event["seq"] as? String)?.contains("-") == true)
                    #expect((event["at"] as? String)?.hasSuffix("Z") == true)
                    #expect(event["error"] == nil, "absent fields are omitted")
                }
                #expect(okEvents.map { $0["state"] as? String } == ["queued", "running", "succeeded"])
                #expect(okEvents[1]["attempt"] as? Int == 1 && okEvents[1]["worker"] is String)
                let retrying = try #require(log.jobs.first { $0["id"] as? String == failing.id && $0["event"] as? String == "retrying" })
                #expect(retrying["type"] as? String == "fail" && (retrying["error"] as? String)?.isEmpty == false)
                #expect(retrying["attempt"] as? Int == 1)

                let stats = try #require(log.messages.last { $0["kind"] as? String == "stats" })
                #expect(stats["workers_online"] as? Int == 1)
                #expect(stats["queues"] is [String: Any] && stats["totals"] is [String: Any])
                for field in ["delayed", "running", "dead", "succeeded_per_second", "failed_per_second"] {
                    #expect(stats[field] != nil, "stats lacks \(field)")
                }
            }
        }
    }

    @Test func filtersByKindTypeQueueJobAndState() async throws {
        try await withAPI(worker: true) { servers in
            let server = servers[0]
            try await withSocket(server, query: "kinds=stats") { statsOnly in
                try await withSocket(server, query: "kinds=job&type=math") { mathOnly in
                    try await withSocket(server, query: "kinds=job&queue=mail&states=succeeded") { mailDone in
                        let target = try await server.broker.enqueue(EnqueueRequest(type: "echo", queue: "mail"))
                        try await withSocket(server, query: "job=" + target.id + "&since=0-0") { oneJob in
                            _ = try await server.broker.enqueue(EnqueueRequest(type: "math", payload: #"{"op":"add","a":1,"b":2}"#))
                            _ = try await server.broker.enqueue(EnqueueRequest(type: "echo"))
                            _ = try await server.broker.enqueue(EnqueueRequest(type: "noop", queue: "mail"))
                            try await eventually(timeout: 20, "filtered events missing") {
                                mathOnly.jobs.count >= 3 && mailDone.jobs.count >= 2 && oneJob.jobs.count >= 3
                                    && statsOnly.messages.count >= 2
                            }
                            try await Task.sleep(for: .milliseconds(300))
                            #expect(statsOnly.messages.allSatisfy { $0["kind"] as? String == "stats" })
                            #expect(mathOnly.jobs.count == 3 && mathOnly.jobs.allSatisfy { $0["type"] as? String == "math" })
                            #expect(!mathOnly.messages.contains { $0["kind"] as? String == "stats" })
                            #expect(
                                mailDone.jobs.count == 2
                                    && mailDone.jobs.allSatisfy {
                                        $0["queue"] as? String == "mail" && $0["state"] as? String == "succeeded"
                                    })
                            #expect(oneJob.jobs.map { $0["id"] as? String } == Array(repeating: target.id, count: 3))
                        }
                    }
                }
            }
        }
    }

    /// A batch of 1 entry makes every replay page one entry (and each later page starts after it).
    @Test(arguments: [100, 1])
    func resumesSinceWithoutHolesOrDuplicates(batch: Int) async throws {
        try await withAPI(events: EventHubOptions(batch: batch)) { servers in
            let server = servers[0]
            _ = try await server.broker.enqueue(batch: (0..<300).map { _ in EnqueueRequest(type: "noop") })
            let before = try await streamIDs(server.broker)
            // The 6th event of the 16th entry (10 events an entry): a replay starts inside an entry.
            let since = before[155]
            // Enqueue while the socket replays, so the switch from replay to live happens under load.
            let writer = Task {
                for _ in 0..<40 {
                    _ = try await server.broker.enqueue(batch: (0..<25).map { _ in EnqueueRequest(type: "noop") })
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            try await withSocket(server, query: "kinds=job&since=" + since) { log in
                try await writer.value
                let expected = try await streamIDs(server.broker, after: since)
                #expect(expected.count == 144 + 1_000)
                try await eventually(timeout: 20, "the socket did not catch up") { log.jobs.count >= expected.count }
                try await Task.sleep(for: .milliseconds(300))
                let received = log.jobs.compactMap { $0["seq"] as? String }
                #expect(received == expected, "received \(received.count), expected \(expected.count)")
            }
        }
    }

    @Test func aSlowClientGetsAGapAndCanResume() async throws {
        let reading = Atomic<Bool>(false)
        try await withAPI(events: EventHubOptions(bufferCapacity: 50, closeAfter: .seconds(120))) { servers in
            let server = servers[0]
            let first = try await streamIDs(server.broker).last ?? "0-0"
            try await withSocket(server, query: "kinds=job", pauseReading: { reading.load(ordering: .relaxed) }) { log in
                try await Task.sleep(for: .milliseconds(300))
                // Each read of 1,000 entries overflows the socket's buffer of 50 while it is not read.
                for _ in 0..<3 {
                    _ = try await server.broker.enqueue(batch: (0..<1_000).map { _ in EnqueueRequest(type: "noop") })
                }
                let total = try await streamIDs(server.broker, after: first).count
                try await Task.sleep(for: .milliseconds(500))
                reading.store(true, ordering: .relaxed)
                // Every event is either received or counted in a gap.
                try await eventually(timeout: 60, "the socket did not account for every event") {
                    let messages = log.messages
                    let missed = messages.compactMap { $0["kind"] as? String == "gap" ? $0["missed"] as? Int : nil }.reduce(0, +)
                    return messages.filter { $0["kind"] as? String == "job" }.count + missed == total
                }
                let messages = log.messages
                let gaps = messages.enumerated().filter { $0.element["kind"] as? String == "gap" }
                #expect(!gaps.isEmpty)
                for (index, gap) in gaps {
                    // A gap resumes after the last event sent before it.
                    let previous = messages[..<index].last { $0["kind"] as? String == "job" }
                    #expect(gap["resume"] as? String == previous?["seq"] as? String)
                }
                // Reconnecting with since=resume brings exactly the events after it.
                let (firstIndex, firstGap) = try #require(gaps.first)
                let resume = try #require(firstGap["resume"] as? String)
                let sentBefore = messages[..<firstIndex].filter { $0["kind"] as? String == "job" }.count
                try await withSocket(server, query: "kinds=job&since=" + resume) { again in
                    try await eventually(timeout: 60, "replay incomplete") { again.jobs.count >= total - sentBefore }
                    let expected = try await streamIDs(server.broker, after: resume)
                    #expect(again.jobs.compactMap { $0["seq"] as? String } == expected)
                }
            }
        }
    }

    /// RFC 6455 §5.5.1: nothing after a Close. The client closes while events stream to it; the
    /// server's answering Close is the last frame it sends, although frames were on their way.
    @Test func nothingFollowsTheServersCloseWhenTheClientCloses() async throws {
        try await withAPI { servers in
            let server = servers[0]
            let socket = try StalledSocket(port: server.port, path: "/v1/events?kinds=job", key: Keys.read)
            try await eventually("the socket did not connect") { server.subscribers == 1 }
            let reader = Task { try await onThread { socket.frames() } }
            let flood = Task {
                while !Task.isCancelled { _ = try? await server.broker.enqueue(batch: (0..<200).map { _ in EnqueueRequest(type: "noop") }) }
            }
            // Close once events are flowing (the handshake's answer is ~130 bytes): under the whole
            // suite's load a fixed half second was sometimes not enough for the first one.
            try await eventually(timeout: 30, "no event arrived") { socket.received > 2_000 }
            socket.sendClose()
            let frames = try await reader.value
            flood.cancel()
            let opcodes = frames.map(\.opcode)
            #expect(opcodes.contains(1), "no event arrived before the close")
            let close = try #require(opcodes.firstIndex(of: 8), "the server sent no Close")
            #expect(close == opcodes.count - 1, "\(opcodes.count - 1 - close) frames followed the server's Close")
        }
    }

    /// At shutdown each socket gets one Close (the server's going-away, or the library's normal
    /// closure, whichever goes first) as its last frame.
    @Test func aSocketIsClosedCleanlyWhenTheServerStops() async throws {
        let reader = try await withAPI { servers in
            let server = servers[0]
            let socket = try StalledSocket(port: server.port, path: "/v1/events?kinds=job", key: Keys.read)
            try await eventually("the socket did not connect") { server.subscribers == 1 }
            let reader = Task { try await onThread { socket.frames() } }
            _ = try await server.broker.enqueue(batch: (0..<500).map { _ in EnqueueRequest(type: "noop") })
            try await Task.sleep(for: .milliseconds(300))
            return reader
        }
        let frames = try await reader.value
        let closes = frames.enumerated().filter { $0.element.opcode == 8 }
        #expect(closes.count == 1, "\(closes.count) Close frames")
        let (index, close) = try #require(closes.first)
        #expect(index == frames.count - 1)
        let code = close.payload.count >= 2 ? Int(close.payload[0]) << 8 | Int(close.payload[1]) : nil
        #expect(code == 1001 || code == 1000, "close code \(String(describing: code))")
    }

    @Test func aClientThatNeverReadsIsClosedWith1008() async throws {
        // One entry (up to 10 events) per read, so a buffer of 20 takes every read until TCP is full.
        try await withAPI(events: EventHubOptions(bufferCapacity: 20, closeAfter: .milliseconds(500), batch: 1)) { servers in
            let server = servers[0]
            let stalled = try StalledSocket(port: server.port, path: "/v1/events?kinds=job", key: Keys.read)
            try await eventually("the socket did not connect") { server.subscribers == 1 }
            // Long type and queue names make ~450-byte frames: some 10,000 of them fill what TCP holds
            // for the socket, after which the server's writes wait and its buffer fills and stays full.
            let type = String(repeating: "t", count: 200)
            let queue = String(repeating: "q", count: 100)
            for _ in 0..<60 {
                _ = try await server.broker.enqueue(batch: (0..<500).map { _ in EnqueueRequest(type: type, queue: queue) })
                if server.subscribers == 0 { break }
            }
            try await eventually(timeout: 30, "the stalled socket was not dropped") { server.subscribers == 0 }
            // The server was not stalled meanwhile.
            #expect(try await server.client.get("/v1/queues").status == 200)
            let code = try await onThread { stalled.drain() }
            #expect(code == 1008)
        }
    }
}
