import ArgumentParser
import Conveyor
import ConveyorHistory
import Foundation
import Histogram
import HummingbirdWSClient
import Logging
import NIOCore
import RedisClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `conveyor bench-events`: the live feed under load. Enqueues `--rate` jobs/s (half `noop`, half
/// `echo`, run by a worker of the caller's) while `--unfiltered` sockets take every job event,
/// `--filtered` sockets one job type each, and `--stalled` sockets never read. Prints, per group, how
/// many of the events their filter matched (read back from the stream) they received, the delay from
/// the event's append (its stream id's time) to the frame's arrival, the CPU each process used while
/// jobs flowed, and the server's RSS after 1 minute and at the end (`--server-pid`).
struct BenchEventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-events", abstract: "Measure the live event feed (GET /v1/events) under load; prints figures.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Base URL of the conveyor serve under test.") var url: String = "http://127.0.0.1:8080"
    @Option(help: "Jobs enqueued per second.") var rate: Int = 2_000
    @Option(help: "How long jobs flow.") var seconds: Int = 300
    @Option(help: "Sockets receiving every job event.") var unfiltered: Int = 10
    @Option(help: "Sockets filtered to one job type (alternately noop and echo).") var filtered: Int = 39
    @Option(help: "Sockets that never read.") var stalled: Int = 1
    @Option(help: "Queue the jobs go to (a worker must serve it).") var queue: String = "bench-events"
    @Option(name: .customLong("server-pid"), help: "PID of the server, for its RSS.") var serverPID: Int32?
    @Option(name: .customLong("cpu-pids"), help: "Processes whose CPU to report, as name:pid,name:pid.") var cpuPIDs: String = ""
    @Flag(help: "Read with one HummingbirdWSClient connection per socket instead of the bench's poll(2) reader.")
    var nioClient = false

    func run() async throws {
        let broker = try global.broker(poolSize: 4, label: "conveyor.bench-events")
        defer { broker.shutdown() }
        try await broker.prepare()
        let types = ["noop", "echo"]
        var paths: [(label: String, path: String)] = []
        for index in 0..<unfiltered { paths.append(("all-\(index)", "/v1/events?kinds=job")) }
        for index in 0..<filtered { paths.append(("type=\(types[index % 2])-\(index)", "/v1/events?kinds=job&type=\(types[index % 2])")) }
        let port = Int(url.split(separator: ":").last.map { $0.prefix { $0.isNumber } } ?? "8080") ?? 8080
        let sockets: any BenchSockets =
            nioClient
            ? NIOBenchSockets(base: url.replacingOccurrences(of: "http://", with: "ws://"), paths: paths)
            : try EventSocketReader(port: port, paths: paths)
        let stalledSockets = try (0..<stalled).map { _ in try StalledSocket(port: port, path: "/v1/events?kinds=job") }
        try await Task.sleep(for: .seconds(2))
        let startID = try await streamEnd(broker).entry
        print(
            "bench-events: \(rate) jobs/s for \(seconds) s; \(unfiltered) unfiltered, \(filtered) filtered, \(stalled) stalled sockets; "
                + (nioClient ? "HummingbirdWSClient reader" : "poll(2) reader"))

        // Jobs flow: a batch every 10 ms.
        let watched = cpuPIDs.split(separator: ",").compactMap { item -> (String, Int32)? in
            let parts = item.split(separator: ":")
            return parts.count == 2 ? Int32(parts[1]).map { (String(parts[0]), $0) } : nil
        }
        let cpuStart = watched.map { Self.cpuSeconds($0.1) }
        let selfStart = Self.ownCPUSeconds()
        let start = ContinuousClock.now
        var next = start
        var sent = 0
        var rssAfterMinute: Int?
        let perTick = max(1, rate / 100)
        while ContinuousClock.now - start < .seconds(seconds) {
            next = next.advanced(by: .milliseconds(10))
            try await Task.sleep(until: next, clock: .continuous)
            let batch = (0..<perTick).map { index in EnqueueRequest(type: types[(sent + index) % 2], queue: queue, maxAttempts: 1) }
            _ = try await broker.enqueue(batch: batch)
            sent += perTick
            if rssAfterMinute == nil, ContinuousClock.now - start >= .seconds(60) { rssAfterMinute = rss() }
        }
        let flowed = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1_000
        let cpuUsed = zip(watched, cpuStart).map { process, before in (process.0, Self.cpuSeconds(process.1) - before) }
        let selfUsed = Self.ownCPUSeconds() - selfStart
        let rssAtEnd = rss()
        // Let the last jobs finish, then wait (up to 120 s) until every socket has the stream's last
        // event its filter matches.
        try await Task.sleep(for: .seconds(3))
        let (endID, lastEventID) = try await streamEnd(broker)
        let end = lastEventID.map(Self.pair) ?? Self.lastEvent(of: endID)
        let waitStart = ContinuousClock.now
        while ContinuousClock.now - waitStart < .seconds(120) {
            let behind = sockets.lastSeqs().filter { last in last.map { $0 < end } ?? true }
            if behind.count <= filtered { break }  // the unfiltered ones see the very last event
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .seconds(2))
        print(
            "caught up \(String(format: "%.1f", Double((ContinuousClock.now - waitStart) / .milliseconds(1)) / 1000)) s after the last event"
        )
        let figures = sockets.snapshot()
        sockets.stop()

        // What each filter should have received: the stream between the two marks.
        var expectedAll: [String] = []
        var expectedByType: [String: [String]] = [:]
        var typeOf: [String: String] = [:]
        var position = startID
        while true {
            let reply = try await broker.pool.command("XRANGE", broker.keys.events, "(" + position, endID, "COUNT", "10000")
            let events = HistoryWriter.entries(reply)
            guard let last = events.last else { break }
            for event in events {
                guard let job = event.job else { continue }
                if let type = event.fields["type"] { typeOf[job] = type }
                expectedAll.append(event.id)
                if let type = typeOf[job] { expectedByType[type, default: []].append(event.id) }
            }
            position = last.entryID
        }
        print(
            "jobs enqueued: \(sent) (\(String(format: "%.0f", Double(sent) / Double(seconds))) jobs/s); job events in the window: \(expectedAll.count)"
        )
        func report(_ group: String, _ members: [(EventSocketReader.Figures, [String])]) {
            var complete = 0
            var merged = Histogram<UInt64>(highestTrackableValue: 600_000)
            var gaps = 0
            var frames = 0
            let start = Self.lastEvent(of: startID)
            for (figures, expected) in members {
                let received = figures.seqs.filter { $0 > start && $0 <= end }
                if received.count == expected.count && zip(received, expected).allSatisfy({ $0 == Self.pair($1) }) { complete += 1 }
                gaps += figures.gaps
                frames += figures.seqs.count
                merged.add(figures.delays)
            }
            print(
                "\(group): \(complete)/\(members.count) sockets received every matching event, in order; gaps \(gaps); "
                    + "delay p50 \(merged.valueAtPercentile(50)) ms, p99 \(merged.valueAtPercentile(99)) ms, "
                    + "p99.9 \(merged.valueAtPercentile(99.9)) ms, max \(merged.max) ms (\(frames) frames)")
        }
        report("unfiltered", figures.prefix(unfiltered).map { ($0, expectedAll) })
        report(
            "filtered",
            zip(paths, figures).dropFirst(unfiltered).map { path, figures in
                (figures, expectedByType[path.path.components(separatedBy: "type=").last ?? ""] ?? [])
            })
        for (index, socket) in stalledSockets.enumerated() {
            print("stalled socket \(index): \(socket.closedByServer() ? "closed by the server" : "still open")")
        }
        let cpu = ([("bench client", selfUsed)] + cpuUsed).map { "\($0.0) \(String(format: "%.0f", $0.1 / flowed * 100)) %" }
        print("CPU while jobs flowed (% of one core): " + cpu.joined(separator: ", "))
        if let rssAfterMinute, let rssAtEnd {
            print(
                "server RSS: \(rssAfterMinute / 1024) MiB after 1 min, \(rssAtEnd / 1024) MiB at \(seconds) s (difference \((rssAtEnd - rssAfterMinute) / 1024) MiB)"
            )
        }
    }

    /// The position of the last event an entry `id` can hold (events are `<ms>-<seq × 1000 + index>`).
    static func lastEvent(of id: String) -> (milliseconds: UInt64, sequence: UInt64) {
        let entry = pair(id)
        return (entry.milliseconds, entry.sequence * HistoryEvent.eventsPerEntry + HistoryEvent.eventsPerEntry - 1)
    }

    static func pair(_ id: String) -> (milliseconds: UInt64, sequence: UInt64) {
        let split = id.split(separator: "-")
        return (UInt64(split.first ?? "0") ?? 0, split.count > 1 ? UInt64(split[1]) ?? 0 : 0)
    }

    /// The stream's last entry ("0-0" when empty) and the id of its last event, in one XREVRANGE.
    func streamEnd(_ broker: Broker) async throws -> (entry: String, lastEvent: String?) {
        let reply = try await broker.pool.command("XREVRANGE", broker.keys.events, "+", "-", "COUNT", "1")
        return (reply.array?.first?.array?.first?.string ?? "0-0", HistoryWriter.entries(reply).last?.id)
    }

    /// The server's resident set in KiB (VmRSS), when `--server-pid` is given.
    func rss() -> Int? {
        guard let serverPID, let status = try? String(contentsOfFile: "/proc/\(serverPID)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
    }

    /// CPU seconds (user + system) a process has used, from /proc/PID/stat.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds this process has used.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

/// The reading sockets of a bench, however they read.
protocol BenchSockets: Sendable {
    func snapshot() -> [EventSocketReader.Figures]
    func lastSeqs() -> [(milliseconds: UInt64, sequence: UInt64)?]
    func stop()
}

extension EventSocketReader: BenchSockets {}

/// One HummingbirdWSClient connection per socket (`--nio-client`), to compare with the poll(2) reader.
final class NIOBenchSockets: BenchSockets {
    final class Socket: Sendable {
        let figures = Mutex(EventSocketReader.Figures())
    }
    let sockets: [Socket]
    let tasks: [Task<Void, Never>]

    init(base: String, paths: [(label: String, path: String)]) {
        let sockets = paths.map { _ in Socket() }
        self.sockets = sockets
        self.tasks = zip(paths, sockets).map { path, socket in
            Task {
                _ = try? await WebSocketClient.connect(url: base + path.path, logger: Logger(label: "bench")) { inbound, _, _ in
                    for try await frame in inbound {
                        let now = EventSocketReader.nowMilliseconds()
                        let seq = frame.data.readableBytesView.withUnsafeBytes { EventSocketReader.seq(in: $0.bindMemory(to: UInt8.self)) }
                        socket.figures.withLock { figures in
                            if let seq {
                                _ = figures.delays.record(now > seq.milliseconds ? now - seq.milliseconds : 0)
                                figures.seqs.append(seq)
                            } else if String(buffer: frame.data).contains("\"kind\":\"gap\"") {
                                figures.gaps += 1
                            }
                        }
                    }
                }
            }
        }
    }

    func snapshot() -> [EventSocketReader.Figures] { sockets.map { $0.figures.withLock { $0 } } }
    func lastSeqs() -> [(milliseconds: UInt64, sequence: UInt64)?] { sockets.map { $0.figures.withLock { $0.seqs.last } } }
    func stop() { for task in tasks { task.cancel() } }
}

/// A WebSocket that completes the handshake on a plain TCP socket with a small receive buffer and
/// never reads: the slowest client there is.
final class StalledSocket: Sendable {
    let descriptor: Int32

    init(port: Int, path: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4_096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ConveyorError(.invalidArgument, "cannot connect to 127.0.0.1:\(port)") }
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
    }

    /// Reads what is left; true when the server closed the connection (within 30 s).
    func closedByServer() -> Bool {
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    deinit { close(descriptor) }
}
