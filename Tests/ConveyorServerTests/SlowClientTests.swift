import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

/// A plain TCP client on a blocking socket with a receive timeout: what slow and half-open HTTP
/// clients look like from the server's side.
final class RawSocket: @unchecked Sendable {  // used by one thread at a time
    private(set) var descriptor: Int32

    init(port: Int) throws {
        guard let connected = connectLoopback(port: port) else {
            throw ConveyorError(.invalidArgument, "connect failed: errno \(errno)")
        }
        descriptor = connected
    }

    deinit { shut() }

    /// Closes the socket once (the server runs in this process: a descriptor closed twice could be one
    /// of its own by then).
    func shut() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// What the server sends within `seconds`: nil when nothing came (still open), "" when it closed
    /// the connection without a word, else the bytes read (until the first pause).
    func receive(within seconds: Double) -> String? {
        setReceiveTimeout(descriptor, seconds: seconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? nil : "" }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }
}

/// The bounds are loose on purpose: while the whole suite runs, test helpers that block Swift's
/// cooperative pool (2 threads here) can hold up Hummingbird's accept loop for many seconds. What
/// these tests show is that a connection is closed or answered at all, which a stuck server never does.
@Suite("API: slow and half-open clients")
struct SlowClientTests {
    static let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    // Socket work runs on threads of its own (`onThread`); expectations are checked back in the test.

    @Test func headersThatNeverFinishAreCutAtTheHeaderTimeout() async throws {
        try await withAPI(configure: {
            $0.headerTimeout = .seconds(1); $0.idleTimeout = .seconds(120)
        }) { servers in
            let port = servers[0].port
            let (answer, elapsed) = try await onThread { () throws -> (String?, Duration) in
                let socket = try RawSocket(port: port)
                let start = ContinuousClock.now
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
                // Trickle a header byte now and then: the deadline holds anyway.
                var answer: String?
                for _ in 0..<75 {
                    socket.send("X")
                    answer = socket.receive(within: 0.4)
                    if answer != nil { break }
                }
                return (answer, ContinuousClock.now - start)
            }
            #expect(answer == "", "closed without a response: \(answer ?? "still open")")
            // Closed after the 1 s header timeout, long before the 30 s idle timeout (the margin is for a
            // loaded machine).
            #expect(elapsed < .seconds(35))
        }
    }

    @Test func idleConnectionsAreClosedAndKeepAliveOutlivesTheHeaderTimeout() async throws {
        try await withAPI(configure: {
            $0.headerTimeout = .seconds(1); $0.idleTimeout = .seconds(3)
        }) { servers in
            let port = servers[0].port
            let results = try await onThread { () throws -> [String?] in
                // A connection that never sends anything.
                let silent = try RawSocket(port: port)
                let early = silent.receive(within: 1.5)
                let late = silent.receive(within: 40)
                // Keep-alive: a pause longer than the header timeout between requests is fine.
                let client = try RawSocket(port: port)
                client.send(Self.request)
                let first = client.receive(within: 40)
                _ = client.receive(within: 1.5)
                client.send(Self.request)
                let second = client.receive(within: 40)
                return [early, late, first, second]
            }
            #expect(results[0] == nil, "still open before the idle timeout")
            #expect(results[1] == "", "closed at the idle timeout")
            #expect(results[2]?.hasPrefix("HTTP/1.1 200") == true)
            #expect(results[3]?.hasPrefix("HTTP/1.1 200") == true, "the second request on the connection is answered")
        }
    }

    @Test func connectionsPastTheCapWaitAndTheCapIsLogged() async throws {
        let logs = CapturedLogs()
        try await withAPI(logger: logs.logger, configure: { $0.maxConnections = 4 }) { servers in
            let port = servers[0].port
            let results = try await onThread { () throws -> [String?] in
                let held = try (0..<4).map { _ in try RawSocket(port: port) }
                var answers: [String?] = []
                for socket in held {
                    socket.send(Self.request)
                    answers.append(socket.receive(within: 40))
                }
                let waiting = try RawSocket(port: port)
                waiting.send(Self.request)
                answers.append(waiting.receive(within: 1))
                held[0].shut()
                answers.append(waiting.receive(within: 40))
                return answers
            }
            for answer in results.prefix(4) { #expect(answer?.hasPrefix("HTTP/1.1 200") == true) }
            #expect(results[4] == nil, "no answer past the cap")
            #expect(results[5]?.hasPrefix("HTTP/1.1 200") == true, "answered once a connection closed")
        }
        #expect(logs.messages(.warning).contains { $0.contains("open HTTP connections, the cap") }, "\(logs.records.withLock { $0 })")
    }

    @Test func clientsThatGoAwayMidRequestAreNotErrors() async throws {
        let logs = CapturedLogs()
        try await withAPI(logger: logs.logger) { servers in
            let port = servers[0].port
            try await onThread {
                for _ in 0..<5 {
                    let socket = try RawSocket(port: port)
                    socket.send(
                        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Keys.admin)\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"type\":"
                    )
                    _ = socket.receive(within: 0.2)
                }
            }
            // The server still answers, and the aborted uploads left no error.
            #expect(try await servers[0].client.get("/healthz").status == 200)
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(logs.messages(.error).isEmpty && logs.messages(.critical).isEmpty, "\(logs.records.withLock { $0 })")
    }
}
