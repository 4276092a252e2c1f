import Foundation
import RedisClient

extension Broker {
    /// Changes a job that has not started: any of priority, run time, payload, max_attempts, retry
    /// policy and timeout (one atomic script, `Lua/update-3.lua`). A scheduled, queued or retrying job
    /// takes the new values; a new run time moves it between the delayed set and its queue (a future
    /// time makes a queued job scheduled, a time now or past makes it queued), a new priority moves a
    /// queued job to the head of that priority's list. The job's event stream gets an `updated` event
    /// naming the changed fields. A worker claiming the job at the same moment either runs it with all
    /// the new values or makes this call answer ``JobUpdateOutcome/refused(state:)`` with `running`.
    ///
    /// - Parameters:
    ///   - id: the job id.
    ///   - changes: the fields to change; nil fields stay as they are.
    /// - Returns: ``JobUpdateOutcome/updated(state:previous:changed:)``, ``JobUpdateOutcome/refused(state:)``
    ///   for a running or finished job (nothing changed), or ``JobUpdateOutcome/notFound``.
    /// - Throws: `ConveyorError` `.invalidArgument` for bad input (nothing is sent to Redis), `.redis`
    ///   when Redis fails.
    public func update(id: String, _ changes: JobUpdate) async throws -> JobUpdateOutcome {
        try changes.validate(maxPayloadBytes: configuration.maxPayloadBytes)
        guard JobID.isValid(id) else { return .notFound }
        let arguments: [any RedisArgument] = [
            keys.prefix, configuration.eventsHardMaxLength, id, changes.priority?.rawValue ?? "",
            changes.runAt.map { Self.milliseconds($0) } ?? -1, changes.delayMilliseconds ?? -1, changes.payload ?? "",
            changes.maxAttempts.map(String.init) ?? "", changes.retryPolicy?.encoded ?? "",
            changes.timeoutMilliseconds.map(String.init) ?? "",
        ]
        let reply = try await scripts.update.run(
            on: pool, keys: [keys.delayed, keys.events, keys.promoterWake], arguments: arguments)
        let fields = reply.array?.compactMap(\.string) ?? []
        switch fields.first {
        case "updated" where fields.count == 4:
            guard let state = JobState(rawValue: fields[1]), let previous = JobState(rawValue: fields[2]) else { break }
            let changed = fields[3].split(separator: ",").map(String.init)
            return .updated(state: state, previous: previous, changed: changed)
        case "refused" where fields.count == 2:
            guard let state = JobState(rawValue: fields[1]) else { break }
            return .refused(state: state)
        case "notfound":
            return .notFound
        default:
            break
        }
        throw ConveyorError(.redis, "update: unexpected reply \(reply)")
    }
}
