import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Synchronization

/// What a finished `conveyor` command printed, and how it exited.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    var output: String
    var error: String

    /// Standard output split into non-empty lines.
    var lines: [String] { output.split(separator: "\n").map(String.init) }
    /// Standard error split into non-empty lines.
    var errorLines: [String] { error.split(separator: "\n").map(String.init) }

    /// Standard output parsed as JSON.
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(output.utf8), options: [.fragmentsAllowed])
    }

    /// Standard output as a JSON object; throws when it is something else.
    func object() throws -> [String: Any] {
        guard let object = try json() as? [String: Any] else { throw ConveyorError(.invalidArgument, "not a JSON object: \(output)") }
        return object
    }

    var description: String { "exit \(status), stdout: \(output.prefix(2_000)) stderr: \(error.prefix(2_000))" }
}

/// One namespace on one Redis server, driven the way a user drives Conveyor: through `conveyor`
/// processes. A broker on the same namespace reads state back for the assertions. `close()` kills
/// every process it started.
final class Cluster: Sendable {
    let redis: TestRedis
    let namespace: String
    let url: String
    let environment: [String: String]
    let broker: Broker
    private let processes = Mutex<[ConveyorProcess]>([])

    init(redis: TestRedis = .shared, url: String? = nil, environment: [String: String] = [:]) throws {
        self.redis = redis
        self.namespace = uniqueNamespace("proc")
        self.url = url ?? redis.url
        self.environment = environment
        self.broker = Broker(
            redis: try RedisConfiguration(url: self.url), configuration: BrokerConfiguration(namespace: namespace), poolSize: 2)
    }

    /// Kills (SIGKILL) every process still running and closes the broker.
    func close() {
        for process in processes.withLock({ $0 }) where process.isRunning {
            process.signal(SIGCONT)
            process.signal(SIGKILL)
        }
        broker.shutdown()
    }

    /// Starts `conveyor ARGUMENTS` in the background.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ConveyorProcess {
        let process = try ConveyorProcess(
            arguments, redisURL: url, namespace: namespace, environment: self.environment.merging(environment) { $1 })
        processes.withLock { $0.append(process) }
        return process
    }

    /// Runs `conveyor ARGUMENTS` to completion.
    func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, timeout: Double = 30) async throws
        -> CLIResult
    {
        let result = try await ConveyorProcess.run(
            arguments, redisURL: url, namespace: namespace, environment: self.environment.merging(environment) { $1 }, stdin: stdin,
            timeout: timeout)
        return CLIResult(status: result.status, output: result.output, error: result.error)
    }

    /// Starts `conveyor worker`.
    func worker(
        lease: String = "30s", concurrency: Int = 1, grace: String = "5s", queues: String = "default",
        extra: [String] = [], environment: [String: String] = [:]
    ) throws -> ConveyorProcess {
        try start(
            ["worker", "--lease", lease, "--concurrency", String(concurrency), "--grace", grace, "--queues", queues] + extra,
            environment: environment)
    }

    /// Starts `conveyor promoter`.
    func promoter(environment: [String: String] = [:]) throws -> ConveyorProcess {
        try start(["promoter"], environment: environment)
    }

    /// `conveyor enqueue TYPE ARGUMENTS`; expects success and returns the printed ids.
    func enqueue(_ type: String, _ arguments: [String] = []) async throws -> [String] {
        let result = try await run(["enqueue", type] + arguments)
        guard result.status == 0 else { throw ConveyorError(.invalidArgument, "enqueue \(type) \(arguments) failed: \(result)") }
        return result.lines
    }

    /// `conveyor enqueue` of one job; returns its id.
    func enqueueOne(_ type: String, _ arguments: [String] = []) async throws -> String {
        let ids = try await enqueue(type, arguments)
        guard ids.count == 1 else { throw ConveyorError(.invalidArgument, "expected one id, got \(ids)") }
        return ids[0]
    }

    /// `conveyor job ID` as a JSON object; expects success.
    func jobJSON(_ id: String) async throws -> [String: Any] {
        let result = try await run(["job", id])
        guard result.status == 0 else { throw ConveyorError(.notFound, "job \(id): \(result)") }
        return try result.object()
    }

    /// `conveyor stats` as a JSON object; expects success.
    func statsJSON() async throws -> [String: Any] {
        let result = try await run(["stats"])
        guard result.status == 0 else { throw ConveyorError(.redis, "stats: \(result)") }
        return try result.object()
    }

    /// Waits until the job (read through the broker) satisfies `condition`; Redis errors on the way
    /// count as "not yet" (a test may be restarting the server).
    @discardableResult
    func waitForJob(_ id: String, timeout: Double = 15, _ what: String, _ condition: @escaping (Job) -> Bool) async throws -> Job {
        var last: Job?
        try await eventually(
            timeout: timeout,
            "job \(id): \(what) (last: \(last.map { "\($0.state) attempts=\($0.attempts) crashes=\($0.crashes) worker=\($0.worker ?? "-")" } ?? "none"))"
        ) {
            last = (try? await broker.job(id)) ?? last
            return last.map(condition) ?? false
        }
        return last!
    }

    /// Waits until `condition` holds, treating thrown errors as "not yet".
    func waitUntil(timeout: Double = 15, _ what: @autoclosure () -> String, _ condition: () async throws -> Bool) async throws {
        try await eventually(timeout: timeout, what()) { (try? await condition()) ?? false }
    }

    /// The broker's totals counter `name`.
    func total(_ name: String) async throws -> Int { try await broker.stats().totals[name] ?? 0 }

    /// Every event of the namespace's stream.
    func allEvents() async throws -> [[String: String]] { try await events(broker) }

    /// The jobs with these ids, read in pipelined batches.
    func jobs(_ ids: [String]) async throws -> [String: Job] {
        var found: [String: Job] = [:]
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 500)])
            let replies = try await broker.pool.pipeline(chunk.map { ["HGETALL", broker.keys.job($0)] })
            for (id, reply) in zip(chunk, replies) { found[id] = reply.fieldMap.flatMap(Job.init(fields:)) }
            start += chunk.count
        }
        return found
    }
}

/// True when the job is (or was last) held by this worker process: worker ids are `host:pid:random`.
func isHeld(_ job: Job, by process: ConveyorProcess) -> Bool {
    job.worker?.contains(":\(process.pid):") == true
}

/// True for an RFC 3339 timestamp such as `2026-11-22T10:00:00.123Z`.
func isRFC3339(_ value: Any?) -> Bool {
    guard let text = value as? String else { return false }
    return text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/) != nil
}

/// Parses an RFC 3339 timestamp from JSON output.
func date(_ value: Any?) -> Date? {
    (value as? String).flatMap { RFC3339.date($0) }
}

/// Counts events named `name` per job id.
func eventCounts(_ events: [[String: String]], _ name: String) -> [String: Int] {
    var counts: [String: Int] = [:]
    for event in events where event["event"] == name {
        if let id = event["job"] { counts[id, default: 0] += 1 }
    }
    return counts
}
