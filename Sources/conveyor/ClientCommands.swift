import ArgumentParser
import Conveyor
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
    @Option(help: "high, normal or low.") var priority: String = "normal"
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
        guard let priority = JobPriority(rawValue: priority) else {
            throw ConveyorError(.invalidArgument, "--priority must be high, normal or low, got '\(self.priority)'")
        }
        guard (1...10_000_000).contains(count) else { throw ConveyorError(.invalidArgument, "--count must be from 1 to 10000000") }
        var request = EnqueueRequest(
            type: type, payload: try readPayload(payload), queue: queue, priority: priority, maxAttempts: maxAttempts)
        if let delay {
            if delay.hasPrefix("-") {
                throw ConveyorError(
                    .invalidArgument,
                    "--delay must not be negative, got '\(delay)'; to run at a given time use --at (a time in the past means now)")
            }
            request.delayMilliseconds = try duration(delay, flag: "delay")
        }
        if let at {
            guard let date = RFC3339.date(at) else {
                throw ConveyorError(.invalidArgument, "--at must be an ISO 8601 time like 2026-11-22T10:00:00Z, got '\(at)'")
            }
            request.runAt = date
        }
        if let backoff {
            do { request.retryPolicy = try RetryPolicy.parse(backoff) } catch {
                throw ConveyorError(.invalidArgument, "--backoff: \(error.message)")
            }
        }
        request.timeoutMilliseconds = try duration(timeout, flag: "timeout")
        request.uniqueKey = unique
        try request.validate(maxPayloadBytes: try global.brokerConfiguration().maxPayloadBytes)
        let broker = try global.broker()
        defer { broker.shutdown() }
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
        }
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
