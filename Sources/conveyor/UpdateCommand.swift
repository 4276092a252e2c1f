import ArgumentParser
import Conveyor
import ConveyorServer
import Foundation

/// `conveyor update ID`: changes a job that has not started yet.
struct UpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change a scheduled, queued or retrying job; prints its state and the changed fields as JSON.",
        discussion: "Exit status 3 when there is no such job, 4 when it is running or finished (nothing changed).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job id.") var id: String
    @Option(help: "New priority.") var priority: JobPriority?
    @Option(parsing: .unconditional, help: "Run after this long from now (500ms, 5s, 2m).") var delay: String?
    @Option(help: "Run at this time (ISO 8601); a time in the past means now.") var at: String?
    @Option(parsing: .unconditional, help: "JSON payload; @FILE reads it from a file, - from standard input.") var payload: String?
    @Option(name: .customLong("max-attempts"), help: "Attempts before the job is dead.") var maxAttempts: Int?
    @Option(help: "fixed:1s | exponential:100ms:30s[:jitter|:0.3] | none") var backoff: String?
    @Option(help: "Per-attempt timeout (0 for none).") var timeout: String?

    func run() async throws {
        var changes = JobUpdate(priority: priority, payload: try payload.map(readPayload), maxAttempts: maxAttempts)
        if let delay { changes.delayMilliseconds = try parseDelay(delay) }
        if let at { changes.runAt = try parseTime(at) }
        if let backoff { changes.retryPolicy = try parseBackoff(backoff) }
        if let timeout { changes.timeoutMilliseconds = try duration(timeout, flag: "timeout") }
        if delay != nil && at != nil { throw ConveyorError(.invalidArgument, "use --delay or --at, not both") }
        try changes.validate(maxPayloadBytes: try global.brokerConfiguration().maxPayloadBytes)
        let broker = try global.broker()
        defer { broker.shutdown() }
        switch try await broker.update(id: id, changes) {
        case .updated(let state, let previous, let changed):
            // What PATCH /v1/jobs/{id} answers.
            try printBody(JobStateBody(id: id, state: state, previousState: previous, changed: changed), pretty: false)
        case .refused(let state):
            FileHandle.standardError.write(
                Data("conveyor: job \(id) is \(state.rawValue): only scheduled, queued or retrying jobs can be updated\n".utf8))
            throw ExitCode(4)
        case .notFound:
            FileHandle.standardError.write(Data("conveyor: no job \(id)\n".utf8))
            throw ExitCode(3)
        }
    }
}
