import Foundation
import Histogram
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The reading sockets of `conveyor bench-events`: WebSocket connections on plain TCP, all read by one
/// thread with poll(2), frames parsed in place (a server's frames are not masked), each job message's
/// delay taken from its `seq` (the stream id's milliseconds, Redis's clock at XADD) to the read that
/// brought it.
///
/// Hand-written rather than one HummingbirdWSClient connection per socket because the client shares
/// the two cores with the server under test and must not be what is measured: one thread, one `read`
/// per socket per wake-up and a few comparisons per frame (~180,000 frames/s at 2,000 jobs/s). Its CPU
/// time is printed with the figures; `--nio-client` reads with HummingbirdWSClient instead, to compare.
final class EventSocketReader: Sendable {
    /// What one socket saw.
    struct Figures {
        var delays = Histogram<UInt64>(highestTrackableValue: 600_000)
        var seqs: [(milliseconds: UInt64, sequence: UInt64)] = []
        var gaps = 0
        var closed = false
    }

    let labels: [String]
    private let descriptors: [Int32]
    private let figures: Mutex<[Figures]>
    private let stopping = Atomic<Bool>(false)
    private let finished = Mutex<Bool>(false)

    /// Connects one socket per path (`/v1/events?…`) to `127.0.0.1:port` and completes each handshake.
    init(port: Int, paths: [(label: String, path: String)]) throws {
        labels = paths.map(\.label)
        var descriptors: [Int32] = []
        var read: [[UInt8]] = []
        for (_, path) in paths {
            let descriptor = try Self.connect(port: port)
            descriptors.append(descriptor)
            read.append(try Self.handshake(descriptor, path: path))
        }
        let pending = read
        self.descriptors = descriptors
        self.figures = Mutex(Array(repeating: Figures(), count: paths.count))
        let thread = Thread { [self] in self.readLoop(pending: pending) }
        thread.name = "bench-events-reader"
        thread.start()
    }

    /// The sockets' figures so far.
    func snapshot() -> [Figures] { figures.withLock { $0 } }

    /// The last seq each socket received.
    func lastSeqs() -> [(milliseconds: UInt64, sequence: UInt64)?] { figures.withLock { $0.map { $0.seqs.last } } }

    /// Stops reading and closes the sockets.
    func stop() {
        stopping.store(true, ordering: .releasing)
        while !finished.withLock({ $0 }) { usleep(10_000) }
        for descriptor in descriptors { close(descriptor) }
    }

    private func readLoop(pending initial: [[UInt8]]) {
        var pending = initial
        var open = Array(repeating: true, count: descriptors.count)
        var polls = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let scratchSize = 1 << 18
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: scratchSize)
        defer {
            scratch.deallocate()
            finished.withLock { $0 = true }
        }
        // Frames already read with the handshake's answer.
        for index in pending.indices where !pending[index].isEmpty { parse(&pending[index], socket: index, now: Self.nowMilliseconds()) }
        while !stopping.load(ordering: .acquiring) {
            let ready = poll(&polls, nfds_t(polls.count), 100)
            if ready <= 0 { continue }
            let now = Self.nowMilliseconds()
            for index in polls.indices where open[index] && polls[index].revents != 0 {
                let count = read(polls[index].fd, scratch, scratchSize)
                if count <= 0 {
                    open[index] = false
                    polls[index].fd = -1
                    figures.withLock { $0[index].closed = true }
                    continue
                }
                pending[index].append(contentsOf: UnsafeBufferPointer(start: scratch, count: count))
                for ping in parse(&pending[index], socket: index, now: now) { Self.pong(ping, on: polls[index].fd) }
            }
        }
    }

    static let jobPrefix = Array(#"{"kind":"job","seq":""#.utf8)
    static let gapMarker = Array(#""kind":"gap""#.utf8)

    /// Takes every whole frame off the front of `bytes` and records it; returns the payloads of the
    /// pings among them, which the caller answers.
    @discardableResult
    private func parse(_ bytes: inout [UInt8], socket: Int, now: UInt64) -> [[UInt8]] {
        var offset = 0
        var pings: [[UInt8]] = []
        var seqs: [(milliseconds: UInt64, sequence: UInt64)] = []
        var gaps = 0
        var closed = false
        bytes.withUnsafeBufferPointer { buffer in
            while buffer.count - offset >= 2 {
                let opcode = buffer[offset] & 0x0F
                var length = Int(buffer[offset + 1] & 0x7F)
                var header = 2
                if length == 126 {
                    guard buffer.count - offset >= 4 else { break }
                    length = Int(buffer[offset + 2]) << 8 | Int(buffer[offset + 3])
                    header = 4
                } else if length == 127 {
                    guard buffer.count - offset >= 10 else { break }
                    length = (0..<8).reduce(0) { $0 << 8 | Int(buffer[offset + 2 + $1]) }
                    header = 10
                }
                guard buffer.count - offset >= header + length else { break }
                let payload = UnsafeBufferPointer(rebasing: buffer[(offset + header)..<(offset + header + length)])
                switch opcode {
                case 1:
                    if let seq = Self.seq(in: payload) {
                        seqs.append(seq)
                    } else if Self.contains(payload, Self.gapMarker) {
                        gaps += 1
                    }
                case 8: closed = true
                case 9: pings.append(Array(payload))
                default: break
                }
                offset += header + length
            }
        }
        if offset > 0 { bytes.removeFirst(offset) }
        guard !seqs.isEmpty || gaps > 0 || closed else { return pings }
        figures.withLock { all in
            for seq in seqs { _ = all[socket].delays.record(now > seq.milliseconds ? now - seq.milliseconds : 0) }
            all[socket].seqs.append(contentsOf: seqs)
            all[socket].gaps += gaps
            if closed { all[socket].closed = true }
        }
        return pings
    }

    /// Answers a ping with a pong carrying its payload (RFC 6455 §5.5.3), masked as a client's frames
    /// must be (§5.3), as a browser does: the server closes a socket that leaves its pings unanswered.
    static func pong(_ payload: [UInt8], on descriptor: Int32) {
        guard payload.count <= 125 else { return }
        let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
        var frame: [UInt8] = [0x8A, 0x80 | UInt8(payload.count)] + key
        frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        _ = frame.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The `seq` of a job message (JSONBodyEncoder writes `kind` then `seq` first), read in place.
    static func seq(in bytes: UnsafeBufferPointer<UInt8>) -> (milliseconds: UInt64, sequence: UInt64)? {
        guard bytes.count > jobPrefix.count, bytes.starts(with: jobPrefix) else { return nil }
        var milliseconds: UInt64 = 0
        var sequence: UInt64 = 0
        var inSequence = false
        for byte in bytes[jobPrefix.count...] {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inSequence {
                    sequence = sequence * 10 + UInt64(byte - 48)
                } else {
                    milliseconds = milliseconds * 10 + UInt64(byte - 48)
                }
            case UInt8(ascii: "-"): inSequence = true
            default: return (milliseconds, sequence)
            }
        }
        return nil
    }

    static func contains(_ bytes: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { start in needle.indices.allSatisfy { bytes[start + $0] == needle[$0] } }
    }

    static func nowMilliseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000 + UInt64(spec.tv_nsec) / 1_000_000
    }

    static func connect(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw BenchError("cannot connect to 127.0.0.1:\(port)")
        }
        return descriptor
    }

    /// Sends the upgrade request and reads the answer's head; returns the bytes read past it.
    static func handshake(_ descriptor: Int32, path: String) throws -> [UInt8] {
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let end = Array("\r\n\r\n".utf8)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { throw BenchError("\(path): the server closed the connection during the handshake") }
            received += buffer[0..<count]
            if let range = received.firstRange(of: end) {
                let head = String(decoding: received[..<range.lowerBound], as: UTF8.self)
                guard head.hasPrefix("HTTP/1.1 101") else {
                    throw BenchError("\(path): handshake refused: \(head.split(separator: "\r\n").first ?? "")")
                }
                return Array(received[range.upperBound...])
            }
        }
    }
}

/// A bench that cannot run.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
