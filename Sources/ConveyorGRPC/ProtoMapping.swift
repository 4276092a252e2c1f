import Conveyor
import ConveyorServer
import Foundation
import GRPCCore
import SwiftProtobuf

// Conversions between the API's model (the REST bodies, the broker's requests) and the protobuf
// messages of API/conveyor/v1/conveyor.proto, so both front ends answer from the same values.

extension Conveyor_V1_Priority {
    init(_ priority: JobPriority) {
        switch priority {
        case .high: self = .high
        case .normal: self = .normal
        case .low: self = .low
        }
    }

    /// The priority, nil for unspecified.
    func model(field: String) throws(RPCError) -> JobPriority? {
        switch self {
        case .unspecified: return nil
        case .high: return .high
        case .normal: return .normal
        case .low: return .low
        case .UNRECOGNIZED(let value): throw .invalid(field, "'\(field)' \(value) is not a priority")
        }
    }
}

extension Conveyor_V1_JobState {
    init(_ state: JobState?) {
        switch state {
        case nil: self = .unspecified
        case .scheduled: self = .scheduled
        case .queued: self = .queued
        case .running: self = .running
        case .retrying: self = .retrying
        case .succeeded: self = .succeeded
        case .dead: self = .dead
        case .cancelled: self = .cancelled
        }
    }

    /// The state, nil for unspecified.
    func model(field: String) throws(RPCError) -> JobState? {
        switch self {
        case .unspecified: return nil
        case .scheduled: return .scheduled
        case .queued: return .queued
        case .running: return .running
        case .retrying: return .retrying
        case .succeeded: return .succeeded
        case .dead: return .dead
        case .cancelled: return .cancelled
        case .UNRECOGNIZED(let value): throw .invalid(field, "'\(field)' \(value) is not a job state")
        }
    }
}

extension Conveyor_V1_MisfirePolicy {
    init(_ policy: String) {
        switch policy {
        case "one": self = .one
        case "all": self = .all
        default: self = .skip
        }
    }

    func model() throws(RPCError) -> MisfirePolicy {
        switch self {
        case .unspecified, .skip: return .skip
        case .one: return .one
        case .all: return .all
        case .UNRECOGNIZED(let value): throw .invalid("schedule.misfire", "'schedule.misfire' \(value) is not a misfire policy")
        }
    }
}

extension Conveyor_V1_Backoff {
    init(_ body: BackoffBody) {
        self.init()
        switch body.kind {
        case "none": kind = .none
        case "fixed": kind = .fixed
        default: kind = .exponential
        }
        baseMs = Int64(body.baseMs)
        maxMs = Int64(body.maxMs)
        jitter = body.jitter
    }

    /// The retry policy, with the REST API's defaults and ranges (`Backoff` in API/openapi.yaml).
    func model(field: String) throws(RPCError) -> Conveyor.RetryPolicy {
        let limit: Int64 = 315_360_000_000
        for (name, value) in [("base_ms", baseMs), ("max_ms", maxMs)] where !(0...limit).contains(value) {
            throw .invalid("\(field).\(name)", "'\(field).\(name)' must be from 0 to \(limit)")
        }
        guard (0...1).contains(jitter) else { throw .invalid("\(field).jitter", "'\(field).jitter' must be from 0 to 1") }
        switch kind {
        case .none: return .none
        case .fixed: return .fixed(milliseconds: baseMs == 0 ? 1_000 : Int(baseMs), jitter: jitter)
        case .unspecified, .exponential:
            let base = baseMs == 0 ? 1_000 : Int(baseMs)
            let cap = maxMs == 0 ? max(base, 3_600_000) : Int(maxMs)
            return .exponential(baseMilliseconds: min(base, cap), maxMilliseconds: cap, jitter: jitter)
        case .UNRECOGNIZED(let value): throw .invalid("\(field).kind", "'\(field).kind' \(value) is not a backoff kind")
        }
    }
}

extension Conveyor_V1_EnqueueRequest {
    /// The broker's request, validated by the same rules as `POST /v1/jobs`; errors name the field
    /// under `path` (`jobs[3].queue`).
    func model(maxPayloadBytes: Int, path: String = "") throws(RPCError) -> EnqueueRequest {
        func name(_ field: String) -> String { path.isEmpty ? field : path + "." + field }
        guard !type.isEmpty else { throw .invalid(name("type"), "'\(name("type"))' is required") }
        var request = EnqueueRequest(type: type)
        if !payloadJson.isEmpty { request.payload = payloadJson }
        if !queue.isEmpty { request.queue = queue }
        if let priority = try priority.model(field: name("priority")) { request.priority = priority }
        if hasDelayMs && hasRunTime { throw .invalid(name("run_time"), "send either 'delay_ms' or 'run_time', not both") }
        if hasDelayMs { request.delayMilliseconds = Int(clamping: delayMs) }
        if hasRunTime { request.runAt = max(runTime.date, Date(timeIntervalSince1970: 0)) }
        if hasMaxAttempts { request.maxAttempts = Int(maxAttempts) }
        if hasBackoff { request.retryPolicy = try backoff.model(field: name("backoff")) }
        if hasTimeoutMs { request.timeoutMilliseconds = Int(clamping: timeoutMs) }
        if !uniqueKey.isEmpty { request.uniqueKey = uniqueKey }
        do { try request.validate(maxPayloadBytes: maxPayloadBytes) } catch {
            throw .invalid(name(ProtoMapping.field(of: error.message)), error.message)
        }
        return request
    }
}

/// Helpers shared by the conversions.
enum ProtoMapping {
    /// The request field a validation message is about (messages start with the field's name), in
    /// the proto's names.
    static func field(of message: String) -> String {
        let first = message.prefix { $0.isLetter || $0 == "_" }
        switch first {
        case "delay": return "delay_ms"
        case "timeout": return "timeout_ms"
        case "run_at": return "run_time"
        case "payload", "": return "payload_json"
        default: return String(first)
        }
    }
}

extension Conveyor_V1_Job {
    init(_ job: JobBody) {
        self.init()
        id = job.id
        type = job.type
        queue = job.queue
        priority = .init(job.priority)
        state = .init(job.state)
        attempts = Int32(clamping: job.attempts)
        maxAttempts = Int32(clamping: job.maxAttempts)
        crashes = Int32(clamping: job.crashes)
        payloadJson = job.payload.text
        if let result = job.result { resultJson = result.text }
        lastError = job.lastError ?? ""
        backoff = .init(job.backoff)
        timeoutMs = Int64(job.timeoutMs)
        uniqueKey = job.uniqueKey ?? ""
        worker = job.worker ?? ""
        if let time = job.runAt { runTime = .init(date: time) }
        if let time = job.createdAt { createTime = .init(date: time) }
        if let time = job.enqueuedAt { enqueueTime = .init(date: time) }
        if let time = job.startedAt { startTime = .init(date: time) }
        if let time = job.finishedAt { finishTime = .init(date: time) }
        if let time = job.updatedAt { updateTime = .init(date: time) }
        schedule = job.schedule ?? ""
        if let time = job.tick { tickTime = .init(date: time) }
    }
}

extension Conveyor_V1_Queue {
    init(name: String, _ queue: QueueBody) {
        self.init()
        self.name = name
        high = Int64(queue.high)
        normal = Int64(queue.normal)
        low = Int64(queue.low)
        delayed = Int64(queue.delayed)
        running = Int64(queue.running)
        dead = Int64(queue.dead)
        paused = queue.paused
    }
}

extension Conveyor_V1_Worker {
    init(_ worker: WorkerBody) {
        self.init()
        id = worker.id
        host = worker.host
        pid = Int32(clamping: worker.pid)
        queues = worker.queues
        concurrency = Int32(clamping: worker.concurrency)
        runningJobs = worker.running
        startTime = .init(date: worker.startedAt)
        heartbeatTime = .init(date: worker.heartbeatAt)
        heartbeatAgeMs = Int64(worker.heartbeatAgeMs)
    }
}

extension Conveyor_V1_Schedule {
    init(_ schedule: ScheduleBody, definition: Schedule?) {
        self.init()
        name = schedule.name
        expression = schedule.expression
        timeZone = schedule.tz
        if let start = schedule.start { startTime = .init(date: start) }
        misfire = .init(schedule.misfire)
        noOverlap = schedule.noOverlap
        paused = schedule.paused
        type = schedule.type
        payloadJson = schedule.payload.text
        queue = schedule.queue
        priority = .init(schedule.priority)
        maxAttempts = Int32(clamping: schedule.maxAttempts)
        if let job = definition?.job {
            backoff = .init(BackoffBody(job.retryPolicy))
            timeoutMs = Int64(job.timeoutMilliseconds)
        }
        nextFireTimes = schedule.next.map { Google_Protobuf_Timestamp(date: $0) }
        if let tick = schedule.lastTick { lastTickTime = .init(date: tick) }
        lastRunID = schedule.lastRunId ?? ""
        lastRunState = .init(schedule.lastRunState)
        runs = Int64(schedule.runs)
        skipped = Int64(schedule.skipped)
        misfired = Int64(schedule.misfired)
    }

    /// The definition, validated like a REST schedule body; `name` from the request.
    func model(maxPayloadBytes: Int) throws(RPCError) -> Schedule {
        guard Names.isValid(name) else {
            throw .invalid("schedule.name", "'schedule.name' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        guard !expression.isEmpty else { throw .invalid("schedule.expression", "'schedule.expression' is required") }
        guard !type.isEmpty else { throw .invalid("schedule.type", "'schedule.type' is required") }
        var job = EnqueueRequest(type: type)
        if !payloadJson.isEmpty { job.payload = payloadJson }
        if !queue.isEmpty { job.queue = queue }
        if let priority = try priority.model(field: "schedule.priority") { job.priority = priority }
        if maxAttempts != 0 { job.maxAttempts = Int(maxAttempts) }
        if hasBackoff { job.retryPolicy = try backoff.model(field: "schedule.backoff") }
        if timeoutMs != 0 { job.timeoutMilliseconds = Int(clamping: timeoutMs) }
        let schedule = Schedule(
            name: name, expression: expression, timeZone: timeZone.isEmpty ? nil : timeZone, start: hasStartTime ? startTime.date : nil,
            misfire: try misfire.model(), noOverlap: noOverlap, job: job)
        do { try schedule.validate(maxPayloadBytes: maxPayloadBytes) } catch {
            let field = error.message.contains("time zone") ? "time_zone" : error.message.hasPrefix("schedule name") ? "name" : "expression"
            throw .invalid("schedule." + field, error.message)
        }
        return schedule
    }
}

extension RPCError {
    /// INVALID_ARGUMENT naming the field (also in the `field` trailing metadata).
    static func invalid(_ field: String, _ message: String) -> RPCError {
        RPCError(code: .invalidArgument, message: message, metadata: ["field": .string(field)])
    }

    /// The gRPC status of an API problem (RFC 9457 status → google.rpc code), carrying the field and
    /// `retry-after` (seconds) where the problem has them.
    init(_ problem: APIProblem) {
        let code: RPCError.Code
        switch problem.status.code {
        case 400, 413: code = .invalidArgument
        case 401: code = .unauthenticated
        case 403: code = .permissionDenied
        case 404: code = .notFound
        case 409: code = .failedPrecondition
        case 429: code = .resourceExhausted
        case 503: code = .unavailable
        default: code = .internalError
        }
        var metadata: Metadata = [:]
        if let field = problem.field { metadata.addString(field, forKey: "field") }
        if let retry = problem.retryAfter { metadata.addString(retry, forKey: "retry-after") }
        self.init(code: code, message: problem.detail, metadata: metadata)
    }
}
