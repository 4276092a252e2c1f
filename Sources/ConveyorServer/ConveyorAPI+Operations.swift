import Conveyor
import ConveyorHistory
import Foundation

// The operations behind the routes, with typed results, shared by every front end (REST, gRPC):
// input arrives validated; failures are `APIProblem`s (404, 409) or the store's errors.
extension ConveyorAPI {
    /// Enqueues validated jobs, all or nothing.
    public func enqueueBatch(_ jobs: [EnqueueRequest]) async throws -> BatchBody {
        guard (1...configuration.maxBatch).contains(jobs.count) else {
            throw APIProblem.invalid("jobs", "'jobs' must hold from 1 to \(configuration.maxBatch) jobs, got \(jobs.count)")
        }
        let results = try await broker.enqueue(batch: jobs, atomic: true)
        return BatchBody(ids: results.map(\.id), duplicates: results.enumerated().filter(\.element.duplicate).map(\.offset))
    }

    /// A page of the history, newest first; `cursor` is a `next_cursor` this API returned.
    public func listJobs(filter: JobFilter, limit: Int, cursor: String?) async throws -> JobPageBody<RawJSON> {
        if let cursor, !JobID.isValid(cursor) { throw APIProblem.invalid("cursor", "'cursor' is not one this API returned") }
        return JobPageBody(page: try await history.listJobs(filter: filter, limit: limit, cursor: cursor))
    }

    /// A page of dead-letter jobs, most recent first.
    public func deadJobs(limit: Int, cursor: String?) async throws -> JobPageBody<JobBody> {
        let page: (jobs: [Job], nextCursor: String?)
        do { page = try await broker.deadJobs(limit: limit, cursor: cursor) } catch let error as ConveyorError {
            throw APIProblem.invalid("cursor", error.message)
        }
        return JobPageBody(jobs: page.jobs.map(JobBody.init), nextCursor: page.nextCursor)
    }

    /// Live workers.
    public func workers() async throws -> WorkersBody {
        let now = Date()
        return WorkersBody(workers: try await broker.workers().map { WorkerBody($0, now: now) })
    }

    /// History totals, per-minute outcomes over `hours`, and the broker's counters.
    public func stats(hours: Int) async throws -> StatsBody {
        let broker = try await self.broker.stats()
        let counts = try await history.counts()
        let minutes = try await history.perMinute(hours: Double(hours))
        return StatsBody(byState: counts.byState, byType: counts.byType, hours: hours, perMinute: minutes, broker: broker)
    }

    /// Retries dead jobs by id (1 to `maxBatch`), or all of them when `ids` is nil.
    public func retryDead(ids: [String]?) async throws -> RetryDeadBody {
        guard let ids else { return RetryDeadBody(retried: try await broker.retryAllDead()) }
        guard (1...configuration.maxBatch).contains(ids.count) else {
            throw APIProblem.invalid("ids", "'ids' must hold from 1 to \(configuration.maxBatch) job ids")
        }
        let outcome = try await broker.retry(ids: ids)
        return RetryDeadBody(retried: outcome.values.filter { $0 == "retried" }.count, results: outcome)
    }

    /// Every schedule.
    public func schedules() async throws -> SchedulesBody {
        SchedulesBody(schedules: try await broker.schedules().map(ScheduleBody.init))
    }

    /// Creates a validated schedule; 409 when the name is taken.
    public func createSchedule(_ schedule: Schedule) async throws -> ScheduleBody {
        if try await broker.schedule(schedule.name) != nil {
            throw APIProblem(.conflict, "schedule '\(schedule.name)' exists; PUT /v1/schedules/\(schedule.name) replaces it", field: "name")
        }
        try await broker.upsertSchedule(schedule)
        return try await scheduleInfo(schedule.name)
    }

    /// Creates or replaces a validated schedule; `created` says which.
    public func putSchedule(_ schedule: Schedule) async throws -> (schedule: ScheduleBody, created: Bool) {
        let created = try await broker.upsertSchedule(schedule)
        return (try await scheduleInfo(schedule.name), created)
    }

    /// Enqueues a schedule's job now; 404 when there is no such schedule.
    public func runSchedule(_ name: String) async throws -> ScheduleRunBody {
        guard let id = try await broker.runSchedule(name) else { throw APIProblem(.notFound, "no schedule '\(name)'", field: "name") }
        return ScheduleRunBody(name: name, id: id)
    }
}

extension ConveyorAPI {
    /// Changes a scheduled, queued or retrying job (`Broker.update`): its state afterwards and the
    /// fields that changed; 409 naming its state when it is running or finished (nothing changed),
    /// 404 when Redis has no such job, 400 for changes the enqueue rules refuse.
    public func updateJob(_ id: String, _ changes: JobUpdate) async throws -> JobStateBody {
        do { try changes.validate(maxPayloadBytes: broker.configuration.maxPayloadBytes) } catch {
            throw APIProblem.invalid(JSONInput.field(of: error.message), error.message)
        }
        switch try await broker.update(id: id, changes) {
        case .updated(let state, let previous, let changed):
            return JobStateBody(id: id, state: state, previousState: previous, changed: changed)
        case .refused(let state):
            throw APIProblem(
                .conflict, "job '\(id)' is \(state.rawValue); only scheduled, queued or retrying jobs can be changed", field: "id")
        case .notFound:
            throw APIProblem(.notFound, "no job '\(id)' in Redis (finished jobs leave Redis after a while)", field: "id")
        }
    }
}
