import ArgumentParser
import Conveyor
import Foundation

/// `conveyor enqueue`: adds jobs and prints their ids.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue", abstract: "Enqueue a job and print its id (one per line with --count).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job type (echo, sleep, math, fail, http, noop, or your own).") var type: String
    @Option(help: "JSON payload.") var payload: String = "{}"
    @Option(help: "Queue name.") var queue: String = "default"
    @Option(help: "high, normal or low.") var priority: String = "normal"
    @Option(help: "Run after this long (500ms, 5s, 2m).") var delay: String?
    @Option(help: "Run at this time (ISO 8601).") var at: String?
    @Option(name: .customLong("max-attempts"), help: "Attempts before the job is dead.") var maxAttempts: Int = 3
    @Option(help: "fixed:1s | exponential:100ms:30s[:jitter|:0.3] | none") var backoff: String?
    @Option(help: "Per-attempt timeout (0 for none).") var timeout: String = "30m"
    @Option(help: "Idempotency key.") var unique: String?
    @Option(help: "Enqueue this many copies (batched).") var count: Int = 1

    func run() async throws {
        let priority = try parsePriority(priority)
        guard (1...10_000_000).contains(count) else { throw ConveyorError(.invalidArgument, "--count must be from 1 to 10000000") }
        var request = EnqueueRequest(type: type, payload: payload, queue: queue, priority: priority, maxAttempts: maxAttempts)
        if let delay { request.delayMilliseconds = try duration(delay, flag: "delay") }
        if let at { request.runAt = try parseTime(at) }
        if let backoff { request.retryPolicy = try parseBackoff(backoff) }
        request.timeoutMilliseconds = try duration(timeout, flag: "timeout")
        request.uniqueKey = unique
        try request.validate(maxPayloadBytes: try global.brokerConfiguration().maxPayloadBytes)
        let broker = try global.broker()
        defer { broker.shutdown() }
        var remaining = count
        while remaining > 0 {
            let chunk = min(remaining, 10_000)
            let results = try await broker.enqueue(batch: Array(repeating: request, count: chunk))
            print(results.map(\.id).joined(separator: "\n"))
            remaining -= chunk
        }
    }
}

/// Parses `--priority`, shared by `enqueue` and `update`.
func parsePriority(_ text: String) throws -> JobPriority {
    guard let priority = JobPriority(rawValue: text) else {
        throw ConveyorError(.invalidArgument, "--priority must be high, normal or low, got '\(text)'")
    }
    return priority
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

/// `conveyor job ID`: the job as JSON.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Show a job as JSON (from MongoDB, with its timeline, once it has left Redis).")
    @OptionGroup var global: GlobalOptions
    @Argument var id: String

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        if let job = try await broker.job(id) {
            printJSON(job.jsonObject)
            return
        }
        // Gone from Redis: the history in MongoDB may still have it.
        let history: Any?
        do { history = try await historyJob(id, global: global) } catch let error as HistoryUnavailable {
            FileHandle.standardError.write(Data("conveyor: no job \(id) in Redis, and MongoDB is unreachable: \(error.message)\n".utf8))
            throw ExitCode(3)
        }
        guard let history else {
            FileHandle.standardError.write(Data("conveyor: no job \(id) in Redis or in MongoDB\n".utf8))
            throw ExitCode(3)
        }
        printJSON(history)
    }
}

/// `conveyor stats`: queue depths and totals as JSON.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Print queue depths and totals as JSON.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        printJSON(try await broker.stats().jsonObject)
    }
}

/// `conveyor workers`: live workers as JSON.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List live workers as JSON.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        let data = try JSONEncoder().encode(try await broker.workers())
        print(String(decoding: data, as: UTF8.self))
    }
}

/// `conveyor dead`: lists, retries or deletes dead-letter jobs.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dead", abstract: "List dead jobs, or retry or delete them.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Put this dead job back on its queue.") var retry: [String] = []
    @Flag(name: .customLong("retry-all"), help: "Put every dead job back on its queue.") var retryAll = false
    @Option(help: "Delete this dead job.") var delete: [String] = []
    @Option(help: "How many to list.") var limit: Int = 100

    func validate() throws {
        let actions = (retry.isEmpty ? 0 : 1) + (retryAll ? 1 : 0) + (delete.isEmpty ? 0 : 1)
        guard actions <= 1 else { throw ValidationError("use one of --retry, --retry-all and --delete") }
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 100000") }
    }

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        if retryAll {
            printJSON(["retried": try await broker.retryAllDead()], pretty: false)
        } else if !retry.isEmpty {
            let outcome = try await broker.retry(ids: retry)
            printJSON(outcome, pretty: false)
            if outcome.values.contains(where: { $0 != "retried" }) { throw ExitCode(3) }
        } else if !delete.isEmpty {
            let deleted = try await broker.deleteDead(ids: delete)
            printJSON(["deleted": deleted], pretty: false)
            if deleted < delete.count { throw ExitCode(3) }
        } else {
            printJSON(try await broker.deadJobs(limit: limit).map(\.jsonObject))
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
