import ArgumentParser
import Conveyor
import ConveyorServer
import Foundation

/// `conveyor schedule`: recurring jobs.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Manage recurring (cron and interval) jobs.",
        subcommands: [
            ScheduleAddCommand.self, ScheduleListCommand.self, ScheduleRemoveCommand.self, SchedulePauseCommand.self,
            ScheduleResumeCommand.self, ScheduleRunCommand.self,
        ])
}

/// `conveyor schedule add NAME (--cron EXPR [--tz ZONE] | --every 30s [--start TIME]) TYPE`.
struct ScheduleAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Create or replace a schedule (idempotent by name).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The schedule's unique name.") var name: String
    @Argument(help: "The job type each tick enqueues.") var type: String
    @Option(help: "Cron expression: 5 fields, an optional leading seconds field, or @daily and the like.") var cron: String?
    @Option(help: "IANA time zone of the cron expression (default UTC).") var tz: String?
    @Option(help: "Fixed interval (30s, 5m, 1h).") var every: String?
    @Option(help: "First tick of the interval (ISO 8601); --every only.") var start: String?
    @Option(parsing: .unconditional, help: "JSON payload; @FILE reads it from a file, - from standard input.")
    var payload: String = "{}"
    @Option(help: "Queue name.") var queue: String = "default"
    @Option(help: "Priority of the jobs.") var priority: JobPriority = .normal
    @Option(name: .customLong("max-attempts"), help: "Attempts before the job is dead.") var maxAttempts: Int = 3
    @Option(help: "fixed:1s | exponential:100ms:30s[:jitter|:0.3] | none") var backoff: String?
    @Option(help: "Per-attempt timeout (0 for none).") var timeout: String = "30m"
    @Option(help: "Missed ticks after downtime.") var misfire: MisfirePolicy = .skip
    @Flag(name: .customLong("no-overlap"), help: "Skip a tick while the previous run is unfinished.") var noOverlap = false

    func run() async throws {
        let expression: String
        switch (cron, every) {
        case (let cron?, nil):
            guard start == nil else {
                throw ConveyorError(.invalidArgument, "--start applies to --every only (a cron expression has its own times)")
            }
            expression = cron
        case (nil, let every?):
            guard tz == nil else { throw ConveyorError(.invalidArgument, "--tz applies to --cron only") }
            expression = "every " + every
        default: throw ConveyorError(.invalidArgument, "give exactly one of --cron and --every")
        }
        var startDate: Date?
        if let start {
            guard let date = RFC3339.date(start) else {
                throw ConveyorError(.invalidArgument, "--start must be an ISO 8601 time like 2026-11-22T10:00:00Z, got '\(start)'")
            }
            startDate = date
        }
        var job = EnqueueRequest(type: type, payload: try readPayload(payload), queue: queue, priority: priority, maxAttempts: maxAttempts)
        if let backoff {
            do { job.retryPolicy = try RetryPolicy.parse(backoff) } catch {
                throw ConveyorError(.invalidArgument, "--backoff: \(error.message)")
            }
        }
        job.timeoutMilliseconds = try duration(timeout, flag: "timeout")
        let schedule = Schedule(
            name: name, expression: expression, timeZone: tz, start: startDate, misfire: misfire, noOverlap: noOverlap, job: job)
        try schedule.validate(maxPayloadBytes: try global.brokerConfiguration().maxPayloadBytes)
        let broker = try global.broker()
        defer { broker.shutdown() }
        let created = try await broker.upsertSchedule(schedule)
        if let info = try await broker.schedule(name) { try printBody(ScheduleAddedBody(schedule: ScheduleBody(info), created: created)) }
    }
}

/// `conveyor schedule list`.
struct ScheduleListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Print every schedule with its next fire times and last run.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        let schedules = try await broker.schedules().map(ScheduleBody.init)
        try output.print(SchedulesBody(schedules: schedules)) {
            TextTable(
                header: ["NAME", "EXPRESSION", "TZ", "TYPE", "QUEUE", "NEXT", "PAUSED", "RUNS", "LAST RUN"],
                rows: schedules.map {
                    [
                        $0.name, $0.expression, $0.tz, $0.type, $0.queue, TextTable.time($0.next.first), $0.paused ? "yes" : "no",
                        String($0.runs), ($0.lastRunId ?? "-") + ($0.lastRunState.map { " (\($0.rawValue))" } ?? ""),
                    ]
                }, empty: "no schedules")
        }
    }
}

/// The commands that act on one schedule by name; exit 3 when there is none (or nothing changed).
protocol ScheduleNameCommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    var name: String { get }
    /// Why `act` did nothing, after "schedule NAME".
    var refusal: String { get }
    func act(_ broker: Broker) async throws -> String?
}

extension ScheduleNameCommand {
    func run() async throws {
        let broker = try global.broker()
        defer { broker.shutdown() }
        guard let output = try await act(broker) else {
            FileHandle.standardError.write(Data("conveyor: schedule \(name) \(refusal)\n".utf8))
            throw ExitCode(3)
        }
        print(output)
    }
}

/// `conveyor schedule remove NAME`.
struct ScheduleRemoveCommand: ScheduleNameCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete a schedule.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    var refusal: String { "not found" }
    func act(_ broker: Broker) async throws -> String? { try await broker.removeSchedule(name) ? "removed" : nil }
}

/// `conveyor schedule pause NAME`.
struct SchedulePauseCommand: ScheduleNameCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Hold a schedule's ticks back.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    var refusal: String { "not found, or already paused" }
    func act(_ broker: Broker) async throws -> String? { try await broker.pauseSchedule(name) ? "paused" : nil }
}

/// `conveyor schedule resume NAME`.
struct ScheduleResumeCommand: ScheduleNameCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused schedule from its next tick.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    var refusal: String { "not found, or not paused" }
    func act(_ broker: Broker) async throws -> String? { try await broker.resumeSchedule(name) ? "resumed" : nil }
}

/// `conveyor schedule run NAME`: enqueues the job now and prints its id.
struct ScheduleRunCommand: ScheduleNameCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Enqueue the schedule's job now; prints its id.")
    @OptionGroup var global: GlobalOptions
    @Argument var name: String
    var refusal: String { "not found" }
    func act(_ broker: Broker) async throws -> String? { try await broker.runSchedule(name) }
}

/// `schedule add`'s output: the schedule as the API shows it, and whether it was new.
struct ScheduleAddedBody: Encodable {
    var schedule: ScheduleBody
    var created: Bool

    enum CodingKeys: CodingKey { case created }

    func encode(to encoder: any Encoder) throws {
        try schedule.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(created, forKey: .created)
    }
}
