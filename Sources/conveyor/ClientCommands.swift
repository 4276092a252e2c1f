import ArgumentParser
import Conveyor
import ConveyorServer
import Foundation

/// `conveyor enqueue`: adds jobs and prints their ids.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue", abstract: "Enqueue a job and print its id (one per line with --count).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job type (echo, sleep, math, fail, http, noop, or your own).") var type: String
    // `.unconditional`: the value may start with '-' (`--payload -`, `--payload -1`, `--delay -5s`),
    // and then gets a message about the value instead of "Missing value".
    @Option(parsing: .unconditional, help: "JSON payload; @FILE reads it from a file, - from standard input.")
    var payload: String = "{}"
    @Option(help: "Queue name.") var queue: String = "default"
    @Option(help: "Priority within the queue.") var priority: JobPriority = .normal
    @Option(parsing: .unconditional, help: "Run after this long (500ms, 5s, 2m).") var delay: String?
    @Option(help: "Run at this time (ISO 8601); a time in the past means now.") var at: String?
    @Option(name: .customLong("max-attempts"), help: "Attempts before the job is dead.") var maxAttempts: Int = 3
    @Option(help: "fixed:1s | exponential:100ms:30s[:jitter|:0.3] | none") var backoff: String?
    @Option(parsing: .unconditional, help: "Per-attempt timeout (0 for none).") var timeout: String = "30m"
    @Option(help: "Idempotency key.") var unique: String?
    @Flag(
        name: .customLong("fail-on-duplicate"),
        help: "Exit with status 5 when --unique matched an unfinished job (its id is printed, nothing is enqueued).")
    var failOnDuplicate = false
    @Option(help: "Enqueue this many copies (batched).") var count: Int = 1

    /// The exit status of `--fail-on-duplicate` when a unique key matched an unfinished job.
    static let duplicateExitCode: Int32 = 5

    func run() async throws {
        guard (1...10_000_000).contains(count) else { throw ConveyorError(.invalidArgument, "--count must be from 1 to 10000000") }
        var request = EnqueueRequest(
            type: type, payload: try readPayload(payload), queue: queue, priority: priority, maxAttempts: maxAttempts)
        if let delay { request.delayMilliseconds = try parseDelay(delay) }
        if let at { request.runAt = try parseTime(at) }
        if let backoff { request.retryPolicy = try parseBackoff(backoff) }
        request.timeoutMilliseconds = try duration(timeout, flag: "timeout")
        request.uniqueKey = unique
        try request.validate(maxPayloadBytes: try global.brokerConfiguration().maxPayloadBytes)
        let broker = try global.broker()
        defer { broker.shutdown() }
        let progress = Progress("enqueued", total: count)
        var remaining = count
        var duplicates = 0
        while remaining > 0 {
            let chunk = min(remaining, 10_000)
            let results = try await broker.enqueue(batch: Array(repeating: request, count: chunk))
            print(results.map(\.id).joined(separator: "\n"))
            for result in results where result.duplicate {
                duplicates += 1
                if duplicates <= 3 {
                    FileHandle.standardError.write(
                        Data(
                            "conveyor: duplicate of \(result.id) (\(result.state.rawValue)): unique key '\(unique ?? "")' is held by an unfinished job; nothing enqueued\n"
                                .utf8))
                }
            }
            remaining -= chunk
            progress.update(count - remaining)
        }
        progress.finish(count)
        if duplicates > 3 { FileHandle.standardError.write(Data("conveyor: \(duplicates) duplicates in all\n".utf8)) }
        if duplicates > 0 && failOnDuplicate { throw ExitCode(Self.duplicateExitCode) }
    }
}

/// The payload a `--payload` flag names: the text itself, `@FILE` for a file's contents, `-` for
/// standard input (so payloads up to the 1 MiB limit are not bound by the ~128 KiB argument limit).
func readPayload(_ value: String) throws -> String {
    let data: Data
    if value == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else if value.hasPrefix("@") {
        let path = String(value.dropFirst())
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw ConveyorError(.invalidArgument, "--payload @\(path): cannot read the file")
        }
        data = contents
    } else {
        return value
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw ConveyorError(.invalidArgument, "--payload \(value): not UTF-8 text")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Parses `--delay`, shared by `enqueue` and `update`: a duration, never negative.
func parseDelay(_ text: String) throws -> Int {
    if text.hasPrefix("-") {
        throw ConveyorError(
            .invalidArgument, "--delay must not be negative, got '\(text)'; to run at a given time use --at (a time in the past means now)")
    }
    return try duration(text, flag: "delay")
}

/// Parses `--at`, shared by `enqueue` and `update`.
func parseTime(_ text: String) throws -> Date {
    guard let date = RFC3339.date(text) else {
        throw ConveyorError(.invalidArgument, "--at must be an ISO 8601 time like 2026-11-22T10:00:00Z, got '\(text)'")
    }
    return date
}

/// Parses `--backoff`, shared by `enqueue` and `update`.
func parseBackoff(_ text: String) throws -> RetryPolicy {
    do { return try RetryPolicy.parse(text) } catch { throw ConveyorError(.invalidArgument, "--backoff: \(error.message)") }
}

/// `conveyor job ID`: the job as `GET /v1/jobs/{id}` shows it.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Show a job as JSON: live from Redis (timeline null), or from MongoDB with its timeline once it has left Redis.")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        if let job = try await broker.job(id) {
            // The API's shape; the timeline is in MongoDB, not asked here so that this works without it.
            try printBody(JobDetailBody.live(JobBody(job), timeline: nil))
            return
        }
        // Gone from Redis: the history in MongoDB may still have it.
        let history: JobDetailBody?
        do { history = try await historyJob(id, global: global) } catch let error as HistoryUnavailable {
            FileHandle.standardError.write(Data("conveyor: no job \(id) in Redis, and MongoDB is unreachable: \(error.message)\n".utf8))
            throw ExitCode(3)
        }
        guard let history else {
            FileHandle.standardError.write(Data("conveyor: no job \(id) in Redis or in MongoDB\n".utf8))
            throw ExitCode(3)
        }
        try printBody(history)
    }
}

/// `conveyor stats`: queue depths and totals (the `broker` part of `GET /v1/stats`).
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Print queue depths and totals.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        let stats = try await broker.stats()
        let body = BrokerStatsBody(stats)
        let queues = output.resolved == .table ? QueueBody.all(stats: stats, counts: try await broker.queueCounts()) : [:]
        try output.print(body) {
            TextTable(
                header: ["QUEUE", "HIGH", "NORMAL", "LOW", "DELAYED", "RUNNING", "DEAD", "PAUSED"],
                rows: queues.sorted { $0.key < $1.key }.map { name, queue in
                    [name] + [queue.high, queue.normal, queue.low, queue.delayed, queue.running, queue.dead].map(String.init)
                        + [queue.paused ? "yes" : "no"]
                },
                footer: [
                    "totals: " + body.totals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                ], empty: "no queues yet")
        }
    }
}

/// `conveyor workers`: live workers, as `GET /v1/workers` shows them.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List live workers.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        let workers = try await broker.workers().map { WorkerBody($0) }
        try output.print(WorkersBody(workers: workers)) {
            TextTable(
                header: ["ID", "HOST", "PID", "QUEUES", "CONCURRENCY", "RUNNING", "STARTED", "HEARTBEAT"],
                rows: workers.map {
                    [
                        $0.id, $0.host, String($0.pid), $0.queues.joined(separator: ","), String($0.concurrency), String($0.running.count),
                        TextTable.time($0.startedAt), "\($0.heartbeatAgeMs) ms ago",
                    ]
                }, empty: "no live workers")
        }
    }
}

/// `conveyor dead`: lists, retries or deletes dead-letter jobs.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dead", abstract: "List dead jobs, or retry or delete them.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Put this dead job back on its queue.") var retry: [String] = []
    @Flag(name: .customLong("retry-all"), help: "Put every dead job back on its queue.") var retryAll = false
    @Option(help: "Delete this dead job.") var delete: [String] = []
    @Option(help: "How many to list (1 to 1000).") var limit: Int = 100
    @Option(help: "The next_cursor of the previous page.") var cursor: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        let actions = (retry.isEmpty ? 0 : 1) + (retryAll ? 1 : 0) + (delete.isEmpty ? 0 : 1)
        guard actions <= 1 else { throw ValidationError("use one of --retry, --retry-all and --delete") }
        guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        if retryAll {
            let progress = Progress("retried")
            let retried = try await broker.retryAllDead { progress.update($0) }
            progress.finish(retried)
            try printBody(RetryDeadBody(retried: retried), pretty: false)
        } else if !retry.isEmpty {
            let outcome = try await broker.retry(ids: retry)
            // What POST /v1/dead/retry answers.
            try printBody(RetryDeadBody(retried: outcome.values.filter { $0 == "retried" }.count, results: outcome), pretty: false)
            if outcome.values.contains(where: { $0 != "retried" }) { throw ExitCode(3) }
        } else if !delete.isEmpty {
            let deleted = try await broker.deleteDead(ids: delete)
            printJSON(["deleted": deleted], pretty: false)
            if deleted < delete.count { throw ExitCode(3) }
        } else {
            let page = try await broker.deadJobs(limit: limit, cursor: cursor)
            let jobs = page.jobs.map(JobBody.init)
            try output.print(JobPageBody(jobs: jobs, nextCursor: page.nextCursor)) {
                TextTable(
                    header: ["ID", "TYPE", "QUEUE", "ATTEMPTS", "DIED", "LAST ERROR"],
                    rows: jobs.map {
                        [$0.id, $0.type, $0.queue, String($0.attempts), TextTable.time($0.finishedAt), TextTable.cut($0.lastError)]
                    }, footer: page.nextCursor.map { ["next page: --cursor \($0)"] } ?? [], empty: "no dead jobs")
            }
        }
    }
}

/// `conveyor pause Q`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop workers from taking jobs from a queue.")
    @OptionGroup var global: GlobalOptions
    @Argument var queue: String

    func run() async throws { try await setPaused(global: global, queue: queue, paused: true) }
}

/// `conveyor resume Q`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let workers take jobs from a queue again.")
    @OptionGroup var global: GlobalOptions
    @Argument var queue: String

    func run() async throws { try await setPaused(global: global, queue: queue, paused: false) }
}

/// Pauses or resumes a queue and says whether that changed anything.
private func setPaused(global: GlobalOptions, queue: String, paused: Bool) async throws {
    let broker = try global.broker()
    defer { broker.shutdown() }
    if paused {
        print(try await broker.pause(queue: queue) ? "paused \(queue)" : "\(queue) was already paused")
    } else {
        print(try await broker.resume(queue: queue) ? "resumed \(queue)" : "\(queue) was not paused")
    }
}

/// `conveyor cancel ID`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a job that has not finished.")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        let (outcome, previous) = try await broker.cancel(id)
        switch outcome {
        case .cancelled:
            print("cancelled \(id) (was \(previous?.rawValue ?? "?"))")
        case .alreadyFinished:
            FileHandle.standardError.write(Data("conveyor: job \(id) already finished (\(previous?.rawValue ?? "?"))\n".utf8))
            throw ExitCode(4)
        case .notFound:
            FileHandle.standardError.write(Data("conveyor: no job \(id)\n".utf8))
            throw ExitCode(3)
        }
    }
}
