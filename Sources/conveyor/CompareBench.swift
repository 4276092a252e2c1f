import ArgumentParser
import Conveyor
import Foundation
import RedisClient

/// `bench.compare`: the job `make bench-compare` runs on Conveyor, the same one its Sidekiq side runs
/// (`bench/sidekiq/compare_job.rb`): one Redis round trip of its own, as real jobs do I/O.
///
/// Payload, one of:
/// - `{"counter": KEY, "total": N}`: `INCR KEY`; the first and the N-th increment also stamp the wall
///   clock in µs into `KEY:first` / `KEY:last`, so drain time is measured by the jobs themselves;
/// - `{"latencies": KEY, "sent_us": T}`: `RPUSH KEY <now − T>`, the enqueue→start delay in µs (the
///   client stamped T on the same machine just before its enqueue call).
struct CompareJob: JobParameters {
    static let jobType = "bench.compare"
    var counter: String?
    var total: Int?
    var latencies: String?
    var sent_us: Int?

    /// The wall clock in µs since 1970 (the Sidekiq side uses the same clock).
    static func nowMicroseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec.tv_sec * 1_000_000 + spec.tv_nsec / 1_000
    }

    /// Registers the handler; its Redis connections (8, opened on first use) are the job's own, as a
    /// Sidekiq job's `Sidekiq.redis` pool is.
    static func register(in registry: inout JobRegistry, redis: RedisConfiguration) {
        let pool = RedisPool(configuration: redis, size: 8, name: "bench-job")
        registry.register(CompareJob.self) { (job: CompareJob, _: JobContext) in
            if let key = job.latencies, let sent = job.sent_us {
                try await pool.command("RPUSH", key, String(nowMicroseconds() - sent))
            } else if let key = job.counter {
                let count = try await pool.command("INCR", key).int ?? 0
                if count == 1 { try await pool.command("SET", key + ":first", String(nowMicroseconds())) }
                if count == job.total { try await pool.command("SET", key + ":last", String(nowMicroseconds())) }
            } else {
                throw ConveyorError(.invalidArgument, "bench.compare needs counter or latencies")
            }
        }
    }
}

/// `conveyor bench-client`: the Conveyor client side of `make bench-compare` (the Sidekiq side is
/// `bench/sidekiq/client.rb`), on this library's `Broker` as a Swift service would use it. Modes:
/// `one` enqueues `--jobs` one call each, awaiting every call; `batch` enqueues them `--batch` per call;
/// `latency` enqueues one at a time at `--rate` per second for `--seconds`. Prints the elapsed seconds.
struct BenchClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-client", abstract: "Enqueue bench.compare jobs (make bench-compare's Conveyor client).", shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Option(help: "one, batch or latency.") var mode: String
    @Option(help: "Queue of the jobs.") var queue: String = "bench"
    @Option(help: "Jobs (one, batch).") var jobs: Int = 20_000
    @Option(help: "Jobs per call (batch).") var batch: Int = 1_000
    @Option(help: "Counter key the jobs increment (one, batch).") var counter: String = "bench:counter"
    @Option(help: "List the jobs push their delay to (latency).") var latencies: String = "bench:latencies"
    @Option(help: "Enqueues per second (latency).") var rate: Int = 200
    @Option(help: "Seconds (latency).") var seconds: Double = 10

    func validate() throws {
        guard ["one", "batch", "latency"].contains(mode) else { throw ValidationError("--mode is one, batch or latency") }
        guard jobs > 0, batch > 0, rate > 0, seconds > 0 else { throw ValidationError("jobs, batch, rate and seconds must be positive") }
    }

    func run() async throws {
        let broker = try global.broker(poolSize: 1, label: "conveyor.bench-client")
        defer { broker.shutdown() }
        try await broker.prepare()
        let counted = EnqueueRequest(type: CompareJob.jobType, payload: #"{"counter":"\#(counter)","total":\#(jobs)}"#, queue: queue)
        let start = ContinuousClock.now
        switch mode {
        case "one":
            for _ in 0..<jobs { _ = try await broker.enqueue(counted) }
        case "batch":
            var left = jobs
            while left > 0 {
                let size = min(batch, left)
                _ = try await broker.enqueue(batch: Array(repeating: counted, count: size))
                left -= size
            }
        default:
            let total = Int(seconds * Double(rate))
            let interval = Duration.seconds(1.0 / Double(rate))
            for index in 0..<total {
                let due = start + interval * index
                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                let payload = #"{"latencies":"\#(latencies)","sent_us":\#(CompareJob.nowMicroseconds())}"#
                _ = try await broker.enqueue(EnqueueRequest(type: CompareJob.jobType, payload: payload, queue: queue))
            }
        }
        let elapsed = ContinuousClock.now - start
        print(String(format: "%.6f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
    }
}
