import ArgumentParser
import Conveyor
import Foundation
import Histogram
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// `conveyor bench`: enqueue and processing throughput, enqueue-to-start latency and delayed-job
/// lateness against the configured Redis, in a namespace of its own that it deletes afterwards.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure throughput and latency; prints figures.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "No-op jobs enqueued (batched) and processed per run.") var jobs: Int = 320_000
    @Option(name: .customLong("single-jobs"), help: "Jobs enqueued one call at a time per run.") var singleJobs: Int = 20_000
    @Option(help: "Worker instances for the processing phase.") var workers: Int = 1
    @Option(help: "Concurrency of each worker.") var concurrency: Int = 200
    @Option(help: "Jobs per batched enqueue call.") var batch: Int = 1_000
    @Option(help: "Runs; the median of each figure is printed last.") var runs: Int = 3
    @Option(help: "Enqueues per second in the latency phase.") var rate: Int = 1_000
    @Option(name: .customLong("latency-seconds"), help: "Length of the latency phase.") var latencySeconds: Int = 5
    @Option(name: .customLong("delayed-jobs"), help: "Delayed jobs in the lateness phase.") var delayedJobs: Int = 1_000
    @Option(
        name: .customLong("counts-jobs"),
        help: "Delayed jobs waiting while the queue counts read (GET /v1/queues) is timed, once after the runs (0: skip).")
    var countsJobs: Int = 1_000_000
    @Flag(name: .customLong("counts-only"), help: "Time only the queue counts read with --counts-jobs delayed jobs.")
    var countsOnly = false
    @Flag(help: "Measure the history writer instead (CONVEYOR_MONGO_URL): catch-up rate, and processing with and without it.")
    var history = false
    @Option(name: .customLong("history-events"), help: "Events in the stream the writer catches up on (--history).")
    var historyEvents: Int = 200_000
    @Option(name: .customLong("history-jobs"), help: "Jobs processed without, then with, a writer running (--history).")
    var historyJobs: Int = 100_000

    func run() async throws {
        if history { return try await runHistory() }
        var configuration = try global.brokerConfiguration()
        configuration.namespace = "bench-\(UInt32.random(in: 0...UInt32.max))"
        configuration.keepFinishedMilliseconds = 0
        let redis = try global.redisConfiguration()
        let broker = Broker(redis: redis, configuration: configuration, poolSize: 8, logger: Logger(label: "conveyor.bench"))
        defer { broker.shutdown() }
        try await broker.prepare()
        print("conveyor bench: Redis \(redis.redactedDescription), namespace \(configuration.namespace), \(runs) run(s)")
        if countsOnly {
            for (name, value) in try await countsFigures(broker) {
                print("  \(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(format(value))")
            }
            try await deleteNamespace(broker)
            return
        }
        let memoryBefore = try await usedMemory(broker)
        var figures: [String: [Double]] = [:]
        for run in 1...max(1, runs) {
            let result = try await oneRun(broker)
            print("run \(run): " + result.sorted { $0.key < $1.key }.map { "\($0.key)=\(format($0.value))" }.joined(separator: " "))
            let memory = try await usedMemory(broker)
            let stream = try await broker.pool.command("XLEN", broker.keys.events).int ?? 0
            print(
                "run \(run): redis used_memory \(memory / 1024) KiB, event stream \(stream) entries, job hashes \(try await jobKeys(broker))"
            )
            for (key, value) in result { figures[key, default: []].append(value) }
        }
        let memoryAfter = try await usedMemory(broker)
        let streamLength = try await broker.pool.command("XLEN", broker.keys.events).int ?? 0
        print("")
        print("median of \(runs) run(s):")
        for key in figures.keys.sorted() {
            let values = figures[key]!.sorted()
            print("  \(key.padding(toLength: 34, withPad: " ", startingAt: 0)) \(format(values[values.count / 2]))")
        }
        let total = runs * (jobs + singleJobs)
        print("  redis used_memory before            \(memoryBefore / 1024) KiB")
        print(
            "  redis used_memory after \(total) jobs \(memoryAfter / 1024) KiB (event stream: \(streamLength) entries, capped at ~\(configuration.eventsMaxLength))"
        )
        if countsJobs > 0 {
            for (name, value) in try await countsFigures(broker) {
                print("  \(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(format(value))")
            }
        }
        try await deleteNamespace(broker)
        print("  redis used_memory after cleanup     \(try await usedMemory(broker) / 1024) KiB")
    }

    func format(_ value: Double) -> String { value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value) }

    func usedMemory(_ broker: Broker) async throws -> Int {
        let info = try await broker.pool.command("INFO", "memory").string ?? ""
        for line in info.split(separator: "\r\n") where line.hasPrefix("used_memory:") {
            return Int(line.dropFirst("used_memory:".count)) ?? 0
        }
        return 0
    }

    /// How many job hashes the namespace holds (finished ones leave at once in the bench).
    func jobKeys(_ broker: Broker) async throws -> Int {
        var cursor = "0"
        var count = 0
        let pattern = broker.keys.job("*").replacingOccurrences(of: "{", with: "\\{").replacingOccurrences(of: "}", with: "\\}")
        repeat {
            let reply = try await broker.pool.command("SCAN", cursor, "MATCH", pattern, "COUNT", 10_000)
            let parts = reply.array ?? []
            cursor = parts.first?.string ?? "0"
            count += parts.count > 1 ? parts[1].array?.count ?? 0 : 0
        } while cursor != "0"
        return count
    }

    func deleteNamespace(_ broker: Broker) async throws {
        var cursor = "0"
        repeat {
            let reply = try await broker.pool.command(
                "SCAN", cursor, "MATCH",
                broker.keys.prefix.replacingOccurrences(of: "{", with: "\\{").replacingOccurrences(of: "}", with: "\\}") + "*", "COUNT",
                1000)
            let parts = reply.array ?? []
            cursor = parts.first?.string ?? "0"
            let keys = parts.count > 1 ? parts[1].array?.compactMap(\.string) ?? [] : []
            if !keys.isEmpty { try await broker.pool.command(["DEL"] + keys) }
        } while cursor != "0"
    }

    func oneRun(_ broker: Broker) async throws -> [String: Double] {
        var figures: [String: Double] = [:]
        let noop = EnqueueRequest(type: "noop", retryPolicy: .none)
        let before = try await broker.stats().totals["succeeded"] ?? 0

        // 1. Single enqueues from 8 concurrent callers.
        let single = max(0, singleJobs)
        var start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for part in 0..<8 {
                let count = single / 8 + (part < single % 8 ? 1 : 0)
                group.addTask { for _ in 0..<count { _ = try await broker.enqueue(noop) } }
            }
            try await group.waitForAll()
        }
        if single > 0 { figures["enqueue single jobs/s"] = Double(single) / seconds(since: start) }

        // 2. Batched enqueues.
        start = ContinuousClock.now
        var left = jobs
        while left > 0 {
            let count = min(batch, left)
            _ = try await broker.enqueue(batch: Array(repeating: noop, count: count))
            left -= count
        }
        figures["enqueue batched jobs/s"] = Double(jobs) / seconds(since: start)

        // 3. Processing everything enqueued.
        let target = before + single + jobs
        var registry = JobRegistry()
        BuiltinJobs.register(in: &registry)
        start = ContinuousClock.now
        let workers = (0..<max(1, self.workers)).map { _ in
            Worker(broker: broker, registry: registry, options: WorkerOptions(concurrency: concurrency, gracePeriodMilliseconds: 5_000))
        }
        try await withServices(workers) {
            while (try await broker.stats().totals["succeeded"] ?? 0) < target {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        figures["processing jobs/s"] = Double(single + jobs) / seconds(since: start)

        // 4. Enqueue-to-start latency at a steady rate, and 5. delayed-job lateness.
        let latencies = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000))
        let lateness = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000))
        registry.register(LatencyProbe.self) { (probe: LatencyProbe, _: JobContext) in
            let now = UInt64(Date().timeIntervalSince1970 * 1_000_000)
            let value = now > probe.due ? now - probe.due : 0
            if probe.delayed { lateness.withLock { _ = $0.record(value) } } else { latencies.withLock { _ = $0.record(value) } }
        }
        let worker = Worker(broker: broker, registry: registry, options: WorkerOptions(concurrency: 50))
        let promoter = Promoter(broker: broker)
        try await withServices([promoter, worker]) {
            let total = rate * latencySeconds
            let interval = Duration.seconds(1) / rate
            var next = ContinuousClock.now
            for _ in 0..<total {
                next = next.advanced(by: interval)
                try await Task.sleep(until: next, clock: .continuous)
                let probe = LatencyProbe(due: UInt64(Date().timeIntervalSince1970 * 1_000_000), delayed: false)
                try await broker.push(probe, options: JobOptions(retryPolicy: .none))
            }
            let delayedInterval = Duration.milliseconds(2)
            for _ in 0..<delayedJobs {
                try await Task.sleep(for: delayedInterval)
                // An absolute due time, so the probe and the script agree on it whatever the enqueue takes.
                let due = Date().addingTimeInterval(Double(Int.random(in: 50...1_000)) / 1000)
                let probe = LatencyProbe(due: UInt64((due.timeIntervalSince1970 * 1000).rounded()) * 1_000, delayed: true)
                try await broker.push(probe, options: JobOptions(runAt: due, retryPolicy: .none))
            }
            while latencies.withLock({ $0.totalCount }) + lateness.withLock({ $0.totalCount }) < UInt64(total + delayedJobs) {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        latencies.withLock { histogram in
            figures["latency p50 ms (at \(rate)/s)"] = Double(histogram.valueAtPercentile(50)) / 1000
            figures["latency p99 ms (at \(rate)/s)"] = Double(histogram.valueAtPercentile(99)) / 1000
        }
        lateness.withLock { histogram in
            figures["delayed lateness p50 ms"] = Double(histogram.valueAtPercentile(50)) / 1000
            figures["delayed lateness p99 ms"] = Double(histogram.valueAtPercentile(99)) / 1000
        }
        return figures
    }

    func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Runs `services` while `body` runs, then shuts them down gracefully.
    func withServices(_ services: [any Service], _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: services, logger: Logger(label: "conveyor.bench"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// The bench's probe job: records how late it started against `due` (µs since 1970).
struct LatencyProbe: JobParameters {
    static let jobType = "bench_latency"
    var due: UInt64
    var delayed: Bool
}
