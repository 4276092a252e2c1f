import ArgumentParser
import Conveyor
import ConveyorHTTPJob
import ConveyorHistory
import ConveyorServer
import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import UnixSignals

/// Options for running workers, shared by `worker` and `dev`.
struct WorkerFlags: ParsableArguments {
    @Option(help: "Comma-separated queues to serve, in order.") var queues: String = "default"
    @Option(help: "Handlers running at once.") var concurrency: Int = 10
    @Option(help: "On SIGTERM/SIGINT, how long running jobs may take before they are requeued.") var grace: String = "30s"
    @Option(help: "How long a claimed job stays locked without a heartbeat.") var lease: String = "30s"

    func options() throws -> WorkerOptions {
        let options = WorkerOptions(
            queues: queues.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
            concurrency: concurrency, leaseMilliseconds: try duration(lease, flag: "lease"),
            gracePeriodMilliseconds: try duration(grace, flag: "grace"))
        try options.validate()
        return options
    }
}

/// `--health-port`, shared by the roles without the REST API.
struct HealthFlags: ParsableArguments {
    @Option(
        name: .customLong("health-port"),
        help:
            "Serve GET /healthz and /readyz (503 while Redis, or MongoDB for history, is unreachable) on this port (env CONVEYOR_HEALTH_PORT; 0: off)."
    )
    var healthPort: Int?
    @Option(name: .customLong("health-host"), help: "Address the health server listens on.") var healthHost: String = "0.0.0.0"

    /// The health server as a service, or nothing when `--health-port` is 0.
    /// `--health-port`, else `CONVEYOR_HEALTH_PORT`, else 0 (no health server).
    var port: Int { healthPort ?? Int(ProcessInfo.processInfo.environment["CONVEYOR_HEALTH_PORT"] ?? "") ?? 0 }

    func services(_ checks: [HealthServer.Check], logger: Logger) -> [any Service] {
        guard port != 0 else { return [] }
        return [HealthServer(host: healthHost, port: port, checks: checks, logger: logger).makeApplication()]
    }

    /// Readiness of a process that needs Redis: PING answers.
    static func redis(_ broker: Broker) -> HealthServer.Check {
        HealthServer.Check(name: "redis") { _ = try await broker.pool.command("PING") }
    }
}

/// The handlers a `conveyor` worker process runs: the built-in types, `http` included, and
/// `bench.compare` (`make bench-compare`'s job, on its own connections to `redis`).
func defaultRegistry(redis: RedisConfiguration) -> JobRegistry {
    var registry = JobRegistry()
    BuiltinJobs.register(in: &registry)
    HTTPJobHandler().register(in: &registry)
    CompareJob.register(in: &registry, redis: redis)
    return registry
}

/// Loads the scripts before a long-running command starts: waits while Redis cannot be reached
/// (it may still be starting), but fails at once when Redis refuses (wrong password, no permission),
/// since retrying cannot fix that.
func connect(_ broker: Broker, logger: Logger) async throws {
    var attempt = 0
    while true {
        do {
            try await broker.prepare()
            if attempt > 0 { logger.info("connected to Redis") }
            return
        } catch let error as RedisError where error.isConnectionProblem {
            if attempt == 0 { logger.warning("waiting for Redis", metadata: ["error": .string(error.message)]) }
            attempt += 1
            try await Task.sleep(for: .milliseconds(min(2_000, 100 * attempt)))
        }
    }
}

/// Runs services until SIGTERM or SIGINT, then shuts them down gracefully.
///
/// ServiceGroup stops the services in reverse order: list a service before those it must outlive.
/// `signals` start the graceful shutdown (SIGTERM and SIGINT; `conveyor dev` adds SIGHUP, since its
/// servers, in process groups of their own, no longer get a closing terminal's hang-up themselves).
func runServices(_ services: [any Service], logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
    let group = ServiceGroup(
        configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals, logger: logger))
    try await group.run()
}

/// `conveyor worker`.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run jobs from the given queues until SIGTERM/SIGINT.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: WorkerFlags
    @OptionGroup var health: HealthFlags

    func run() async throws {
        let options = try flags.options()
        let logger = Logger(label: "conveyor.worker")
        let broker = try global.broker(poolSize: 2, label: "conveyor.worker")
        defer { broker.shutdown() }
        try await connect(broker, logger: logger)
        let worker = Worker(broker: broker, registry: defaultRegistry(redis: try global.redisConfiguration()), options: options)
        try await runServices([worker] + health.services([HealthFlags.redis(broker)], logger: logger), logger: logger)
    }
}

/// `conveyor promoter`.
struct PromoterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promoter", abstract: "Promote due jobs and requeue stalled ones until SIGTERM/SIGINT.")
    @OptionGroup var global: GlobalOptions
    @Option(
        name: .customLong("schedule-grace"),
        help:
            "How late a schedule tick may fire and still run as on time (e.g. 2s, 500ms); later ticks follow the schedule's misfire policy."
    )
    var scheduleGrace: String = "2s"
    @OptionGroup var health: HealthFlags

    func run() async throws {
        var options = PromoterOptions()
        options.scheduleGraceMilliseconds = try duration(scheduleGrace, flag: "schedule-grace")
        let logger = Logger(label: "conveyor.promoter")
        let broker = try global.broker(poolSize: 1, label: "conveyor.promoter")
        defer { broker.shutdown() }
        try await connect(broker, logger: logger)
        let services: [any Service] =
            [Promoter(broker: broker, options: options)] + health.services([HealthFlags.redis(broker)], logger: logger)
        try await runServices(services, logger: logger)
    }
}

/// `conveyor dev`: a worker and a promoter in one process, with a local redis-server under
/// `--data-dir` when no Redis URL is given.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Run a local cluster in one process (starts redis-server when no URL is given).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: WorkerFlags
    @Option(name: .customLong("data-dir"), help: "Where the local redis-server keeps its data.") var dataDirectory: String = ".run"
    @Option(name: .customLong("redis-port"), help: "Port of the local redis-server.") var redisPort: Int = 6379
    @Option(name: .customLong("mongo-port"), help: "Port of the local secantusd-py (when CONVEYOR_MONGO_URL is unset).")
    var mongoPort: Int = 27017
    @Option(name: .customLong("api-port"), help: "Port of the REST API and dashboard, on 127.0.0.1 without API keys (0: no API).")
    var apiPort: Int = 8080
    @Option(name: .customLong("dashboard-dir"), help: "Serve the dashboard from this folder instead of the embedded copy (development).")
    var dashboardDirectory: String?

    func run() async throws {
        let logger = Logger(label: "conveyor.dev")
        var global = self.global
        var redisProcess: ChildProcess?
        if global.redisURL == nil && global.environment["CONVEYOR_REDIS_URL"] == nil {
            let directory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("redis").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // Both servers lead process groups of their own, so a Ctrl-C in the terminal (SIGINT to
            // the whole foreground group) reaches this process only: it finishes running jobs and
            // sends their acks and history before it stops the servers (its defers). Before, the
            // servers died at once and the shutdown retried against them for over 30 s.
            redisProcess = try ChildProcess(
                "redis-server",
                [
                    "--port", String(redisPort), "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--save", "",
                    "--logfile", "redis.log", "--maxmemory-policy", "noeviction",
                ], ownProcessGroup: true)
            global.redisURL = "redis://127.0.0.1:\(redisPort)"
            logger.info("started redis-server", metadata: ["url": .string(global.redisURL!), "dir": .string(directory)])
        }
        defer { redisProcess?.stop() }
        var mongoConfiguration = MongoConfiguration.fromEnvironment(global.environment)
        var mongoProcess: ChildProcess?
        var runHistory = true
        let secantusd = ".venv/bin/secantusd-py"
        if (global.environment["CONVEYOR_MONGO_URL"] ?? "").isEmpty && !FileManager.default.isExecutableFile(atPath: secantusd) {
            logger.warning("\(secantusd) is missing (make deps) and CONVEYOR_MONGO_URL is unset: running without job history")
            runHistory = false
        } else if (global.environment["CONVEYOR_MONGO_URL"] ?? "").isEmpty {
            let directory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("mongo").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // An empty config: secantusd-py must not pick up a secantusd.toml from the working directory.
            _ = FileManager.default.createFile(atPath: directory + "/secantusd.toml", contents: Data())
            let log = directory + "/secantusd.log"
            mongoProcess = try ChildProcess(
                secantusd,
                [
                    "--config", directory + "/secantusd.toml", "--host", "127.0.0.1", "--port", String(mongoPort),
                    "--storage-path", directory + "/data", "--log-level", "WARNING",
                ], stdout: log, stderr: log, ownProcessGroup: true)
            mongoConfiguration.url = "mongodb://127.0.0.1:\(mongoPort)/conveyor"
            logger.info("started secantusd-py", metadata: ["url": .string(mongoConfiguration.url), "dir": .string(directory)])
        }
        defer { mongoProcess?.stop() }
        let mongo = try MongoClient(configuration: mongoConfiguration, logger: logger)
        let options = try flags.options()
        let broker = try global.broker(poolSize: 3, label: "conveyor.dev")
        defer { broker.shutdown() }
        var ready = false
        for _ in 0..<100 {
            do {
                try await broker.pool.command("PING")
                ready = true
                break
            } catch let error as ConveyorError {
                throw error  // Redis answers but is refused (an evicting maxmemory-policy)
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        guard ready else { throw ConveyorError(.redis, "Redis at \(try global.redisConfiguration().redactedDescription) does not answer") }
        if let redisProcess, !redisProcess.isRunning {
            logger.warning("redis-server exited at once (port \(redisPort) busy?); using the Redis that answers there")
        }
        try await broker.prepare()
        printNow(
            "Conveyor is running on \(try global.redisConfiguration().redactedDescription), namespace \(broker.configuration.namespace).")
        printNow("Enqueue a job:  .build/release/conveyor enqueue echo --payload '{\"hello\":\"world\"}'")
        printNow("See it:         .build/release/conveyor job <id>     Queues: .build/release/conveyor stats")
        let worker = Worker(broker: broker, registry: defaultRegistry(redis: try global.redisConfiguration()), options: options)
        var services: [any Service] = [Promoter(broker: broker), worker]
        if apiPort != 0 {
            var server = try ServerConfiguration.fromEnvironment(global.environment)
            server.host = "127.0.0.1"
            server.port = apiPort
            server.authRequired = false
            server.dashboardDirectory = dashboardDirectory
            var apiMongo = mongoConfiguration
            apiMongo.url = apiMongoConfiguration(["CONVEYOR_MONGO_URL": mongoConfiguration.url]).url
            let api = ConveyorAPI(
                broker: broker, mongo: try MongoClient(configuration: apiMongo, logger: logger), configuration: server, logger: logger)
            services.append(
                api.makeApplication { port in
                    printNow("Dashboard:      http://127.0.0.1:\(port)/   (live; no sign-in in dev)")
                    printNow("REST API:       http://127.0.0.1:\(port)/v1/queues   (no API keys; OpenAPI at /openapi.json)")
                })
        }
        // First, so it stops last (ServiceGroup stops in reverse order): the events of jobs that
        // finish during the shutdown reach MongoDB before dev stops its servers.
        if runHistory {
            services.insert(
                HistoryWriter(broker: broker, mongo: mongo, options: try HistoryWriterOptions.fromEnvironment(global.environment)), at: 0)
        }
        try await runServices(services, logger: logger, signals: [.sigterm, .sigint, .sighup])
        await mongo.close()
    }
}

/// Writes a line to standard output at once: `print` goes through a buffer that, when stdout is a
/// file or a pipe (`make run` logs to one), holds it until the process exits.
func printNow(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
