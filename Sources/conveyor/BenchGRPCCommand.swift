import ArgumentParser
import Conveyor
import ConveyorGRPC
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Histogram
import Logging
import ServiceLifecycle
import Synchronization

/// `conveyor bench-grpc`: unary `Enqueue` load against a running `conveyor serve --grpc-port`, from
/// several HTTP/2 connections with many calls in flight on each (there is no ghz here, and a Python
/// client would measure Python). Prints the saturating rate and, at a fixed offered rate, p50/p99.
/// `make bench-grpc` runs it against a throwaway server, next to `make bench-api`'s REST figures.
struct BenchGRPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-grpc", abstract: "Load a gRPC server with Enqueue calls; print jobs/s and latency.", shouldDisplay: false)
    @Option(help: "The server's gRPC port on 127.0.0.1.") var port: Int
    @Option(help: "API key (empty without auth).") var key: String = ""
    @Option(help: "HTTP/2 connections.") var connections: Int = 4
    @Option(help: "Calls in flight per connection when saturating.") var inflight: Int = 16
    @Option(help: "Seconds per phase.") var seconds: Double = 10
    @Option(help: "Offered rate for the latency phase, calls per second (0 skips it).") var rate: Int = 2_000

    func validate() throws {
        guard (1...64).contains(connections), (1...1_000).contains(inflight), seconds > 0, rate >= 0 else {
            throw ValidationError("connections 1-64, inflight 1-1000, seconds > 0, rate >= 0")
        }
    }

    static let request = Conveyor_V1_EnqueueRequest.with {
        $0.type = "noop"
        $0.payloadJson = #"{"order":1234,"email":"someone@example.com"}"#
    }

    func run() async throws {
        var metadata: Metadata = [:]
        if !key.isEmpty { metadata.addString("Bearer " + key, forKey: "authorization") }
        let clients = try (0..<connections).map { _ in
            GRPCClient(transport: try .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients { group.addTask { try await client.runConnections() } }
            let stubs = clients.map { Conveyor_V1_Conveyor.Client(wrapping: $0) }
            // Warm up: connections, the server's script cache.
            _ = try await phase(stubs, metadata: metadata, seconds: 1, perConnection: inflight, interval: nil)
            let saturated = try await phase(stubs, metadata: metadata, seconds: seconds, perConnection: inflight, interval: nil)
            var line = String(format: "saturating %.0f jobs/s (errors %d)", saturated.rate, saturated.errors)
            if rate > 0 {
                // Paced: each of `lanes` callers sends one call every lanes/rate seconds.
                let lanes = max(connections, min(200, rate / 20))
                let paced = try await phase(
                    stubs, metadata: metadata, seconds: seconds, perConnection: (lanes + connections - 1) / connections,
                    interval: Double(lanes) / Double(rate))
                line += String(
                    format: "; at %.0f jobs/s offered ~%d: p50 %.2f ms, p99 %.2f ms (errors %d)", paced.rate, rate, paced.p50, paced.p99,
                    paced.errors)
            }
            print(line)
            for client in clients { client.beginGracefulShutdown() }
            try await group.waitForAll()
        }
    }

    struct Result {
        var rate: Double
        var p50: Double
        var p99: Double
        var errors: Int
    }

    /// Runs `perConnection` callers on each connection for `seconds`, each calling back to back, or
    /// once every `interval` seconds on a fixed schedule (latency counted from the scheduled time, so
    /// a stall is not hidden by waiting: no coordinated omission).
    func phase(
        _ stubs: [Conveyor_V1_Conveyor.Client<HTTP2ClientTransport.Posix>], metadata: Metadata, seconds: Double, perConnection: Int,
        interval: Double?
    ) async throws -> Result {
        let recorder = Recorder()
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int(seconds * 1_000))
        let callers = stubs.count * perConnection
        let request = Self.request
        await withTaskGroup(of: Void.self) { group in
            for (index, stub) in stubs.enumerated() {
                for lane in 0..<perConnection {
                    let offset = Int((interval ?? 0) * 1e6 * Double(index * perConnection + lane) / Double(callers))
                    group.addTask {
                        var next = start + .microseconds(offset)
                        while ContinuousClock.now < end {
                            if let interval {
                                if next > ContinuousClock.now { try? await Task.sleep(until: next) }
                            } else {
                                next = .now
                            }
                            do {
                                _ = try await stub.enqueue(request, metadata: metadata)
                                recorder.record(micros: UInt64(max(0, (ContinuousClock.now - next) / .microseconds(1))))
                            } catch {
                                recorder.counts.withLock { $0.errors += 1 }
                            }
                            if let interval { next += .microseconds(Int(interval * 1e6)) }
                        }
                    }
                }
            }
        }
        let elapsed = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1_000
        let histogram = recorder.latencies.withLock { $0 }
        let (done, errors) = recorder.counts.withLock { ($0.done, $0.errors) }
        return Result(
            rate: Double(done) / elapsed, p50: Double(histogram.valueAtPercentile(50)) / 1_000,
            p99: Double(histogram.valueAtPercentile(99)) / 1_000, errors: errors)
    }
}

/// Latencies (µs) and counts of one phase, shared by its callers.
final class Recorder: Sendable {
    let latencies = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000))
    let counts = Mutex((done: 0, errors: 0))

    func record(micros: UInt64) {
        latencies.withLock { _ = $0.record(micros) }
        counts.withLock { $0.done += 1 }
    }
}

/// `conveyor bench-grpc-floor`: serves `NoopEnqueueServer` (an `Enqueue` that does nothing) on the
/// same gRPC server stack as `serve`, until SIGTERM or SIGINT. `make bench-grpc` loads it beside the
/// real server to print that stack's own ceiling: what no work in Conveyor's handler could exceed.
struct BenchGRPCFloorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-grpc-floor", abstract: "Serve a no-op gRPC Enqueue (the gRPC stack's ceiling, for make bench-grpc).",
        shouldDisplay: false)
    @Option(help: "Port on 127.0.0.1 (0: a free one, printed).") var port: Int = 0

    func run() async throws {
        let logger = Logger(label: "conveyor.bench-grpc-floor")
        try await runServices([NoopEnqueueServer(port: port, logger: logger)], logger: logger)
    }
}
