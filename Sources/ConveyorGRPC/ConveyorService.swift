import Conveyor
import ConveyorHistory
import ConveyorServer
import Foundation
import GRPCCore
import SwiftProtobuf

/// The `conveyor.v1.Conveyor` gRPC service: every RPC calls the same operation as its REST route on
/// the same `ConveyorAPI` (broker, history, keys, roles, rate budgets), so both APIs give the same
/// answers. Access is checked by `GRPCAccess` before a method runs; errors become gRPC
/// statuses through `RPCError(APIProblem)`.
public struct ConveyorService: Conveyor_V1_Conveyor.SimpleServiceProtocol {
    let api: ConveyorAPI
    /// The event feed behind `WatchEvents` (the same one the WebSocket feed uses).
    let watch: (any EventWatching)?

    public init(api: ConveyorAPI, watch: (any EventWatching)? = nil) {
        self.api = api
        self.watch = watch
    }

    var maxPayloadBytes: Int { api.broker.configuration.maxPayloadBytes }

    /// Runs an operation, turning every failure into the gRPC status the REST API's problem maps to.
    func run<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as RPCError { throw error } catch {
            throw RPCError(api.problem(for: error, operation: "grpc " + operation))
        }
    }

    static func jobID(_ id: String) throws(RPCError) -> String {
        guard JobID.isValid(id) else {
            throw RPCError(code: .notFound, message: "no job '\(id.prefix(130))'", metadata: ["field": .string("id")])
        }
        return id
    }

    static func name(_ name: String, what: String) throws(RPCError) -> String {
        guard Names.isValid(name) else {
            throw .invalid("name", "\(what) '\(name.prefix(100))' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        return name
    }

    // MARK: jobs

    public func enqueue(request: Conveyor_V1_EnqueueRequest, context: ServerContext) async throws -> Conveyor_V1_EnqueueResponse {
        let job = try request.model(maxPayloadBytes: maxPayloadBytes)
        let body = try await run("Enqueue") { try await api.enqueue(job) }
        return .with {
            $0.id = body.id
            $0.state = .init(body.state)
            $0.duplicate = body.duplicate ?? false
        }
    }

    public func enqueueBatch(request: Conveyor_V1_EnqueueBatchRequest, context: ServerContext) async throws
        -> Conveyor_V1_EnqueueBatchResponse
    {
        guard !request.jobs.isEmpty else { throw RPCError.invalid("jobs", "'jobs' must hold from 1 to \(api.configuration.maxBatch) jobs") }
        let jobs = try request.jobs.enumerated().map { index, job throws(RPCError) in
            try job.model(maxPayloadBytes: maxPayloadBytes, path: "jobs[\(index)]")
        }
        let body = try await run("EnqueueBatch") { try await api.enqueueBatch(jobs) }
        return .with {
            $0.ids = body.ids
            $0.duplicates = body.duplicates.map { Int32($0) }
        }
    }

    public func getJob(request: Conveyor_V1_GetJobRequest, context: ServerContext) async throws -> Conveyor_V1_JobDetail {
        let id = try Self.jobID(request.id)
        let detail = try await run("GetJob") { try await api.jobDetail(id) }
        switch detail {
        case .live(let job, let timeline):
            return .with {
                $0.source = .redis
                $0.job = .init(job)
                $0.timelineJson = timeline?.map(\.text) ?? []
                $0.timelineAvailable = timeline != nil
            }
        case .history(let document):
            // The same JSON GET /v1/jobs/{id} answers; the timeline moves to its own field.
            var object = (try? JSONSerialization.jsonObject(with: Data(document.text.utf8))) as? [String: Any] ?? [:]
            let timeline = object.removeValue(forKey: "timeline") as? [Any]
            object.removeValue(forKey: "source")
            return .with {
                $0.source = .history
                $0.historyJson = JSONText.string(object)
                $0.timelineJson = (timeline ?? []).map { JSONText.string($0) }
                $0.timelineAvailable = timeline != nil
            }
        }
    }

    public func listJobs(request: Conveyor_V1_ListJobsRequest, context: ServerContext) async throws -> Conveyor_V1_ListJobsResponse {
        var filter = JobFilter()
        filter.state = try request.state.model(field: "state")?.rawValue
        filter.type = request.type.isEmpty ? nil : request.type
        filter.queue = request.queue.isEmpty ? nil : request.queue
        filter.since = request.hasSinceTime ? request.sinceTime.date : nil
        filter.until = request.hasUntilTime ? request.untilTime.date : nil
        filter.errorContains = request.query.isEmpty ? nil : request.query
        let limit = try Self.pageSize(request.pageSize)
        let page = try await run("ListJobs") {
            try await api.listJobs(filter: filter, limit: limit, cursor: request.pageToken.isEmpty ? nil : request.pageToken)
        }
        return .with {
            $0.jobsJson = page.jobs.map(\.text)
            $0.nextPageToken = page.nextCursor ?? ""
        }
    }

    static func pageSize(_ size: Int32) throws(RPCError) -> Int {
        guard (0...1_000).contains(size) else { throw .invalid("page_size", "'page_size' must be from 1 to 1000") }
        return size == 0 ? 100 : Int(size)
    }

    public func updateJob(request: Conveyor_V1_UpdateJobRequest, context: ServerContext) async throws -> Conveyor_V1_JobStateChange {
        let id = try Self.jobID(request.id)
        var changes = JobUpdate()
        changes.priority = try request.priority.model(field: "priority")
        if request.hasDelayMs && request.hasRunTime { throw RPCError.invalid("run_time", "send either 'delay_ms' or 'run_time', not both") }
        if request.hasDelayMs { changes.delayMilliseconds = Int(clamping: request.delayMs) }
        if request.hasRunTime { changes.runAt = max(request.runTime.date, Date(timeIntervalSince1970: 0)) }
        if request.hasPayloadJson { changes.payload = request.payloadJson }
        if request.hasMaxAttempts { changes.maxAttempts = Int(request.maxAttempts) }
        if request.hasBackoff { changes.retryPolicy = try request.backoff.model(field: "backoff") }
        if request.hasTimeoutMs { changes.timeoutMilliseconds = Int(clamping: request.timeoutMs) }
        guard !changes.isEmpty else {
            throw RPCError.invalid("", "set at least one of priority, delay_ms, run_time, payload_json, max_attempts, backoff, timeout_ms")
        }
        do { try changes.validate(maxPayloadBytes: maxPayloadBytes) } catch {
            throw RPCError.invalid(ProtoMapping.field(of: error.message), error.message)
        }
        return .init(try await run("UpdateJob") { try await api.updateJob(id, changes) })
    }

    public func cancelJob(request: Conveyor_V1_CancelJobRequest, context: ServerContext) async throws -> Conveyor_V1_JobStateChange {
        let id = try Self.jobID(request.id)
        return .init(try await run("CancelJob") { try await api.cancelJob(id) })
    }

    public func retryJob(request: Conveyor_V1_RetryJobRequest, context: ServerContext) async throws -> Conveyor_V1_JobStateChange {
        let id = try Self.jobID(request.id)
        return .init(try await run("RetryJob") { try await api.retryJob(id) })
    }

    // MARK: queues, dead letters, workers, stats

    public func listQueues(request: Conveyor_V1_ListQueuesRequest, context: ServerContext) async throws -> Conveyor_V1_ListQueuesResponse {
        let queues = try await run("ListQueues") { try await api.queueBodies() }
        return .with { $0.queues = queues.sorted { $0.key < $1.key }.map { Conveyor_V1_Queue(name: $0.key, $0.value) } }
    }

    public func pauseQueue(request: Conveyor_V1_PauseQueueRequest, context: ServerContext) async throws -> Conveyor_V1_QueuePauseState {
        let name = try Self.name(request.name, what: "queue")
        return .init(try await run("PauseQueue") { try await api.setPaused(queue: name, true) })
    }

    public func resumeQueue(request: Conveyor_V1_ResumeQueueRequest, context: ServerContext) async throws -> Conveyor_V1_QueuePauseState {
        let name = try Self.name(request.name, what: "queue")
        return .init(try await run("ResumeQueue") { try await api.setPaused(queue: name, false) })
    }

    public func listDead(request: Conveyor_V1_ListDeadRequest, context: ServerContext) async throws -> Conveyor_V1_ListDeadResponse {
        let limit = try Self.pageSize(request.pageSize)
        let page = try await run("ListDead") {
            try await api.deadJobs(limit: limit, cursor: request.pageToken.isEmpty ? nil : request.pageToken)
        }
        return .with {
            $0.jobs = page.jobs.map(Conveyor_V1_Job.init)
            $0.nextPageToken = page.nextCursor ?? ""
        }
    }

    public func retryDead(request: Conveyor_V1_RetryDeadRequest, context: ServerContext) async throws -> Conveyor_V1_RetryDeadResponse {
        guard request.all != !request.ids.isEmpty else { throw RPCError.invalid("ids", "send either ids or all: true") }
        let body = try await run("RetryDead") { try await api.retryDead(ids: request.all ? nil : request.ids) }
        return .with {
            $0.retried = Int64(body.retried)
            $0.results = body.results ?? [:]
        }
    }

    public func deleteDead(request: Conveyor_V1_DeleteDeadRequest, context: ServerContext) async throws -> Conveyor_V1_DeleteDeadResponse {
        let id = try Self.jobID(request.id)
        _ = try await run("DeleteDead") { try await api.deleteDead(id) }
        return .with { $0.id = id }
    }

    public func listWorkers(request: Conveyor_V1_ListWorkersRequest, context: ServerContext) async throws -> Conveyor_V1_ListWorkersResponse
    {
        let body = try await run("ListWorkers") { try await api.workers() }
        return .with { $0.workers = body.workers.map(Conveyor_V1_Worker.init) }
    }

    public func getStats(request: Conveyor_V1_GetStatsRequest, context: ServerContext) async throws -> Conveyor_V1_Stats {
        guard (0...168).contains(request.hours) else { throw RPCError.invalid("hours", "'hours' must be from 1 to 168") }
        let hours = request.hours == 0 ? 1 : Int(request.hours)
        let body = try await run("GetStats") { try await api.stats(hours: hours) }
        return .with { stats in
            stats.byState = body.byState.mapValues(Int64.init)
            stats.byType = body.byType.mapValues(Int64.init)
            stats.hours = Int32(hours)
            stats.perMinute = body.perMinute.map { minute in
                .with {
                    $0.minuteTime = .init(date: minute.minute)
                    $0.succeeded = Int64(minute.succeeded)
                    $0.failed = Int64(minute.failed)
                }
            }
            stats.queues = body.broker.queues.sorted { $0.key < $1.key }.map { name, depth in
                .with {
                    $0.name = name
                    $0.high = Int64(depth.high)
                    $0.normal = Int64(depth.normal)
                    $0.low = Int64(depth.low)
                    $0.paused = depth.paused
                }
            }
            stats.delayed = Int64(body.broker.delayed)
            stats.running = Int64(body.broker.running)
            stats.dead = Int64(body.broker.dead)
            stats.totals = body.broker.totals.mapValues(Int64.init)
        }
    }

    // MARK: schedules

    func schedule(_ body: ScheduleBody) async throws -> Conveyor_V1_Schedule {
        Conveyor_V1_Schedule(body, definition: try await api.broker.schedule(body.name)?.schedule)
    }

    public func listSchedules(request: Conveyor_V1_ListSchedulesRequest, context: ServerContext) async throws
        -> Conveyor_V1_ListSchedulesResponse
    {
        let infos = try await run("ListSchedules") { try await api.broker.schedules() }
        return .with { $0.schedules = infos.map { Conveyor_V1_Schedule(ScheduleBody($0), definition: $0.schedule) } }
    }

    public func getSchedule(request: Conveyor_V1_GetScheduleRequest, context: ServerContext) async throws -> Conveyor_V1_Schedule {
        let name = try Self.name(request.name, what: "schedule")
        return try await run("GetSchedule") { try await schedule(try await api.scheduleInfo(name)) }
    }

    public func createSchedule(request: Conveyor_V1_CreateScheduleRequest, context: ServerContext) async throws -> Conveyor_V1_Schedule {
        let definition = try request.schedule.model(maxPayloadBytes: maxPayloadBytes)
        do {
            return try await run("CreateSchedule") { try await schedule(try await api.createSchedule(definition)) }
        } catch let error as RPCError where error.code == .failedPrecondition {
            throw RPCError(code: .alreadyExists, message: error.message, metadata: error.metadata)
        }
    }

    public func updateSchedule(request: Conveyor_V1_UpdateScheduleRequest, context: ServerContext) async throws -> Conveyor_V1_Schedule {
        let definition = try request.schedule.model(maxPayloadBytes: maxPayloadBytes)
        return try await run("UpdateSchedule") { try await schedule(try await api.putSchedule(definition).schedule) }
    }

    public func deleteSchedule(request: Conveyor_V1_DeleteScheduleRequest, context: ServerContext) async throws
        -> Conveyor_V1_DeleteScheduleResponse
    {
        let name = try Self.name(request.name, what: "schedule")
        _ = try await run("DeleteSchedule") { try await api.deleteSchedule(name) }
        return .with { $0.name = name }
    }

    public func pauseSchedule(request: Conveyor_V1_PauseScheduleRequest, context: ServerContext) async throws -> Conveyor_V1_Schedule {
        let name = try Self.name(request.name, what: "schedule")
        return try await run("PauseSchedule") { try await schedule(try await api.pauseSchedule(name, paused: true)) }
    }

    public func resumeSchedule(request: Conveyor_V1_ResumeScheduleRequest, context: ServerContext) async throws -> Conveyor_V1_Schedule {
        let name = try Self.name(request.name, what: "schedule")
        return try await run("ResumeSchedule") { try await schedule(try await api.pauseSchedule(name, paused: false)) }
    }

    public func runSchedule(request: Conveyor_V1_RunScheduleRequest, context: ServerContext) async throws -> Conveyor_V1_RunScheduleResponse
    {
        let name = try Self.name(request.name, what: "schedule")
        let body = try await run("RunSchedule") { try await api.runSchedule(name) }
        return .with {
            $0.name = body.name
            $0.jobID = body.id
        }
    }

    // MARK: events

    public func watchEvents(
        request: Conveyor_V1_WatchEventsRequest, response: RPCWriter<Conveyor_V1_Event>, context: ServerContext
    ) async throws {
        guard let watch else { throw RPCError(code: .unimplemented, message: "this server has no event feed") }
        try await watch.watch(request, into: response)
    }
}

/// Where `WatchEvents` gets its events: the server's one reader of the event stream, fanned out.
public protocol EventWatching: Sendable {
    /// Writes the events `request` selects into `writer` until the call ends.
    func watch(_ request: Conveyor_V1_WatchEventsRequest, into writer: RPCWriter<Conveyor_V1_Event>) async throws
}

extension Conveyor_V1_JobStateChange {
    init(_ body: JobStateBody) {
        self.init()
        id = body.id
        state = .init(body.state)
        previousState = .init(body.previousState)
        changedFields = body.changed ?? []
    }
}

extension Conveyor_V1_QueuePauseState {
    init(_ body: PauseBody) {
        self.init()
        name = body.queue
        paused = body.paused
        changed = body.changed
    }
}
