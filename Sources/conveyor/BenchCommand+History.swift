import Conveyor
import ConveyorHistory
import Foundation
import Logging
import RedisClient

/// `conveyor bench --history`: what the history writer sustains against MongoDB (`CONVEYOR_MONGO_URL`),
/// and what it costs the broker.
///
/// Each run: (1) catch-up: a stream prefilled with `--history-events` events (no-op jobs enqueued and
/// processed without a writer: enqueued, started, succeeded each) is copied by one in-process
/// `HistoryWriter` into a fresh database, timed until every event is written and acknowledged;
/// (2) processing `--history-jobs` no-op jobs with one worker in this process (concurrency `--concurrency`)
/// without a writer, with a `conveyor history` process writing the same namespace, and with one writing
/// another namespace (see `processingPhases`), with the writer process's CPU time.
extension BenchCommand {
    func runHistory() async throws {
        let redis = try global.redisConfiguration()
        let mongoURL = MongoConfiguration.fromEnvironment(global.environment).url
        print("conveyor bench --history: Redis \(redis.redactedDescription), MongoDB \(mongoURL), \(runs) run(s)")
        var figures: [String: [Double]] = [:]
        for run in 1...max(1, runs) {
            var result: [String: Double] = [:]
            result["writer catch-up events/s"] = try await catchUp(redis: redis, run: run)
            let (without, with, control) = try await processingPhases(redis: redis, mongoURL: mongoURL, run: run)
            result["processing jobs/s, no writer"] = without
            result["processing jobs/s, writer running"] = with
            result["processing jobs/s, control"] = control
            result["cost of writer and MongoDB %"] = (1 - with / without) * 100
            result["cost of reading events %"] = (1 - with / control) * 100
            print("run \(run): " + result.sorted { $0.key < $1.key }.map { "\($0.key)=\(format($0.value))" }.joined(separator: " "))
            for (key, value) in result { figures[key, default: []].append(value) }
        }
        print("")
        print("median of \(runs) run(s):")
        for key in figures.keys.sorted() {
            let values = figures[key]!.sorted()
            let middle = values.count / 2
            let median = values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
            print(
                "  \(key.padding(toLength: 36, withPad: " ", startingAt: 0)) \(format(median))   (runs: \(figures[key]!.map(format).joined(separator: " / ")))"
            )
        }
    }

    /// A broker on a namespace of its own, finished job hashes deleted at once.
    func historyBenchBroker(redis: RedisConfiguration) throws -> Broker {
        var configuration = try global.brokerConfiguration()
        configuration.namespace = "bench-history-\(UInt32.random(in: 0...UInt32.max))"
        configuration.keepFinishedMilliseconds = 0
        return Broker(redis: redis, configuration: configuration, poolSize: 8, logger: Logger(label: "conveyor.bench"))
    }

    /// Enqueues `count` no-op jobs in batches and processes them with one worker; returns jobs/s.
    func enqueueAndProcess(_ broker: Broker, count: Int) async throws -> Double {
        let noop = EnqueueRequest(type: "noop", retryPolicy: .none)
        let before = try await broker.stats().totals["succeeded"] ?? 0
        var left = count
        while left > 0 {
            let chunk = min(batch, left)
            _ = try await broker.enqueue(batch: Array(repeating: noop, count: chunk))
            left -= chunk
        }
        var registry = JobRegistry()
        BuiltinJobs.register(in: &registry)
        let start = ContinuousClock.now
        let worker = Worker(
            broker: broker, registry: registry, options: WorkerOptions(concurrency: concurrency, gracePeriodMilliseconds: 5_000))
        try await withServices([worker]) {
            while (try await broker.stats().totals["succeeded"] ?? 0) < before + count {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        return Double(count) / seconds(since: start)
    }

    /// Prefills the stream, then times one writer copying it into a fresh database; returns events/s.
    func catchUp(redis: RedisConfiguration, run: Int) async throws -> Double {
        let broker = try historyBenchBroker(redis: redis)
        defer { broker.shutdown() }
        try await broker.prepare()
        _ = try await enqueueAndProcess(broker, count: (historyEvents + 2) / 3)
        let events = try await HistoryWriter.eventCount(broker)
        let mongo = try MongoClient(
            configuration: MongoConfiguration(
                url: MongoConfiguration.fromEnvironment(global.environment).url,
                database: Self.database(of: broker)),
            logger: Logger(label: "conveyor.bench"))
        try? await mongo.dropDatabase()
        let writer = HistoryWriter(
            broker: broker, mongo: mongo, options: HistoryWriterOptions(), logger: quietLogger("conveyor.bench.history"))
        let start = ContinuousClock.now
        var lastReport = start
        try await withServices([writer]) {
            while writer.writtenCount < events {
                try await Task.sleep(for: .milliseconds(20))
                if ContinuousClock.now - lastReport >= .seconds(15) {
                    lastReport = .now
                    print(
                        "  run \(run) catch-up: \(writer.writtenCount) of \(events) events, \(format(Double(writer.writtenCount) / seconds(since: start))) events/s"
                    )
                }
            }
        }
        let rate = Double(events) / seconds(since: start)
        let documents = try await mongo.collection("job_events").countDocuments()
        print("  run \(run) catch-up: \(events) events (\(documents) in job_events) in \(format(seconds(since: start))) s")
        try? await mongo.dropDatabase()
        await mongo.close()
        try await deleteNamespace(broker)
        return rate
    }

    /// Processing rates of `--history-jobs` jobs in three phases, in an order that rotates with the run:
    /// no writer; a `conveyor history` process writing this namespace; and the control, a writer busy
    /// with another namespace's backlog (MongoDB as busy, nothing reading this namespace's events).
    /// "with" minus "control" is what reading the broker's events costs; "control" minus "without" is
    /// MongoDB sharing the machine's cores.
    func processingPhases(redis: RedisConfiguration, mongoURL: String, run: Int) async throws -> (
        without: Double, with: Double, control: Double
    ) {
        let broker = try historyBenchBroker(redis: redis)
        defer { broker.shutdown() }
        try await broker.prepare()
        // The control's writer copies a backlog of another namespace for the whole phase.
        let decoy = try historyBenchBroker(redis: redis)
        defer { decoy.shutdown() }
        try await decoy.prepare()
        _ = try await enqueueAndProcess(decoy, count: historyJobs)
        var rates: [String: Double] = [:]
        let order = ["without", "with", "control"]
        for index in 0..<3 {
            let phase = order[(index + run - 1) % 3]
            switch phase {
            case "without":
                rates[phase] = try await enqueueAndProcess(broker, count: historyJobs)
            default:
                let target = phase == "with" ? broker : decoy
                let database = Self.database(of: target)
                var environment = ProcessInfo.processInfo.environment
                environment["CONVEYOR_NAMESPACE"] = target.configuration.namespace
                environment["CONVEYOR_REDIS_URL"] = global.redisURL ?? environment["CONVEYOR_REDIS_URL"]
                // The writer process uses the URL's database: point it at this namespace's.
                environment["CONVEYOR_MONGO_URL"] = Self.url(mongoURL, database: database)
                environment["CONVEYOR_LOG_LEVEL"] = "error"
                let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
                let writer = try ChildProcess(executable, ["history"], environment: environment)
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline, !(try await target.eventStreamStatus().historyGroupExists) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let cpuBefore = Self.cpuSeconds(of: writer.pid)
                let start = ContinuousClock.now
                rates[phase] = try await enqueueAndProcess(broker, count: historyJobs)
                let cpu = Self.cpuSeconds(of: writer.pid) - cpuBefore
                let lag = try await target.eventStreamStatus().historyLag
                print(
                    "  run \(run) \(phase == "with" ? "writer on this namespace" : "control (writer on another namespace)"): writer process CPU \(format(cpu)) s over \(format(seconds(since: start))) s, its lag \(lag.map(String.init) ?? "unknown") events"
                )
                writer.stop()
                // MongoDB may still be busy with the writer's last batch: let it finish first.
                try await Task.sleep(for: .seconds(5))
                let mongo = try MongoClient(
                    configuration: MongoConfiguration(url: mongoURL, database: database), logger: Logger(label: "conveyor.bench"))
                try? await mongo.dropDatabase()
                await mongo.close()
            }
        }
        try await deleteNamespace(broker)
        try await deleteNamespace(decoy)
        return (rates["without"]!, rates["with"]!, rates["control"]!)
    }

    /// The MongoDB database a bench namespace writes to (its name with `_` for `-`).
    static func database(of broker: Broker) -> String { broker.configuration.namespace.replacingOccurrences(of: "-", with: "_") }

    /// User plus system CPU time of a process so far, in seconds (from /proc; 0 if unreadable).
    static func cpuSeconds(of pid: pid_t) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14 and stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// `url` with its path (the database) replaced by `database`, keeping the query.
    static func url(_ url: String, database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }

    func quietLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }
}
