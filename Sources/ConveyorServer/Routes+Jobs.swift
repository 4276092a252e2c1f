import Conveyor
import ConveyorHistory
import Foundation
import HTTPTypes
import Hummingbird

extension ConveyorAPI {
    static func jobID(_ context: ConveyorRequestContext) throws(APIProblem) -> String {
        let id = context.parameters.get("id") ?? ""
        guard JobID.isValid(id) else { throw APIProblem(.notFound, "no job '\(id.prefix(130))'", field: "id") }
        return id
    }

    /// The body, at most `limit` bytes (413 beyond).
    static func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var request = request
        do { return try await request.collectBody(upTo: limit) } catch let error as any HTTPResponseError
            where error.status == .contentTooLarge
        {
            throw APIProblem(.contentTooLarge, "the request body is over the limit of \(limit) bytes")
        }
    }

    func enqueueOne(_ request: Request, _ context: ConveyorRequestContext) async throws -> Response {
        let maxPayload = broker.configuration.maxPayloadBytes
        let input = try JSONInput(body: try await Self.body(request, limit: maxPayload + 65_536))
        var job = try input.enqueueRequest(maxPayloadBytes: maxPayload)
        if let header = request.headers[.idempotencyKey] {
            guard (1...512).contains(header.utf8.count) else {
                throw APIProblem.invalid("Idempotency-Key", "the Idempotency-Key header must be 1-512 bytes")
            }
            // The body's unique_key, when there is one, is the job's key.
            if job.uniqueKey == nil { job.uniqueKey = header }
        }
        let result = try await enqueuer.enqueue(job)
        var response: Response
        if result.id.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            response = try JSONResponse.make(
                EnqueueBody(id: result.id, state: result.state, duplicate: result.duplicate), status: result.duplicate ? .ok : .created)
        } else {
            // EnqueueBody's JSON written by hand (nothing to escape): this is the hottest route.
            let text =
                (result.duplicate ? #"{"duplicate":true,"id":""# : #"{"id":""#) + result.id + #"","state":""#
                + result.state.rawValue + "\"}\n"
            response = Response(
                status: result.duplicate ? .ok : .created, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        response.headers[.location] = "/v1/jobs/" + result.id
        return response
    }

    func enqueueBatch(_ request: Request) async throws -> Response {
        let input = try JSONInput(body: try await Self.body(request, limit: configuration.maxBatchBodyBytes))
        try input.allowOnly(["jobs"])
        guard let entries = try input.array("jobs") else { throw APIProblem.invalid("jobs", "'jobs' is required") }
        guard (1...configuration.maxBatch).contains(entries.count) else {
            throw APIProblem.invalid("jobs", "'jobs' must hold from 1 to \(configuration.maxBatch) jobs, got \(entries.count)")
        }
        var jobs: [EnqueueRequest] = []
        jobs.reserveCapacity(entries.count)
        // Each entry's own bytes, so its payload is copied as sent (numbers as written).
        let raw = input.body.flatMap { body in body.withUnsafeBytes { JSONText.rawElements("jobs", in: $0) }.map { (body, $0) } }
        for (index, entry) in entries.enumerated() {
            guard let object = entry as? [String: Any] else {
                throw APIProblem.invalid("jobs[\(index)]", "'jobs[\(index)]' must be an object")
            }
            let body = raw.flatMap { body, ranges in ranges.count == entries.count ? body.subdata(in: ranges[index]) : nil }
            jobs.append(
                try JSONInput(object: object, path: "jobs[\(index)]", body: body).enqueueRequest(
                    maxPayloadBytes: broker.configuration.maxPayloadBytes))
        }
        return try JSONResponse.make(try await enqueueBatch(jobs), status: .created)
    }

    func showJob(_ request: Request, _ context: ConveyorRequestContext) async throws -> Response {
        _ = try QueryInput(request, allowed: [])
        return try JSONResponse.make(try await jobDetail(try Self.jobID(context)))
    }

    /// The live job with its timeline, or once it left Redis its history document; 404 in neither.
    /// MongoDB unavailable: the live job with a null timeline (the live state is still worth having).
    public func jobDetail(_ id: String) async throws -> JobDetailBody {
        let live = try await broker.job(id)
        var found: (job: Document, timeline: [Document])?
        var historyAvailable = true
        do { found = try await history.job(id) } catch let error as HistoryError where live != nil && error.isUnavailable {
            historyAvailable = false
        }
        let timeline = historyAvailable ? (found?.timeline ?? []).map(\.historyJSONObject) : nil
        if let live { return .live(JobBody(live), timeline: timeline?.map { RawJSON(object: $0) }) }
        guard let found else { throw APIProblem(.notFound, "no job '\(id)'", field: "id") }
        return .history(document: found.job.historyJSONObject, id: id, timeline: timeline)
    }

    func listJobs(_ request: Request) async throws -> Response {
        let query = try QueryInput(request, allowed: ["state", "type", "queue", "since", "until", "q", "limit", "cursor"])
        var filter = JobFilter()
        if let state = query["state"] {
            guard JobState(rawValue: state) != nil else {
                throw APIProblem.invalid("state", "'state' must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.state = state
        }
        filter.type = query.nonEmpty("type")
        filter.queue = query.nonEmpty("queue")
        filter.since = try query.date("since")
        filter.until = try query.date("until")
        filter.errorContains = query.nonEmpty("q")
        let limit = try query.int("limit", in: 1...1_000) ?? 100
        return try JSONResponse.make(try await listJobs(filter: filter, limit: limit, cursor: query["cursor"]))
    }

    /// `PATCH /v1/jobs/{id}`: any of priority, run_at or delay_ms, payload, max_attempts, backoff,
    /// timeout_ms, read with the same rules as an enqueue.
    func patchJob(_ request: Request, _ context: ConveyorRequestContext) async throws -> Response {
        let id = try Self.jobID(context)
        let maxPayload = broker.configuration.maxPayloadBytes
        let input = try JSONInput(body: try await Self.body(request, limit: maxPayload + 65_536))
        try input.allowOnly(["priority", "run_at", "delay_ms", "payload", "max_attempts", "backoff", "timeout_ms"])
        var changes = JobUpdate()
        changes.priority = try input.enumeration("priority", JobPriority.self, choices: JobPriority.allCases.map(\.rawValue))
        if input.value("delay_ms") != nil && input.value("run_at") != nil {
            throw APIProblem.invalid("run_at", "send either 'delay_ms' or 'run_at', not both")
        }
        changes.delayMilliseconds = try input.int("delay_ms", in: 0...315_360_000_000)
        changes.runAt = try input.date("run_at")
        if let payload = input.jsonText("payload") {
            guard payload.utf8.count <= maxPayload else {
                throw APIProblem(
                    .contentTooLarge, "'payload' is \(payload.utf8.count) bytes, over the limit of \(maxPayload)", field: "payload")
            }
            changes.payload = payload
        }
        changes.maxAttempts = try input.int("max_attempts", in: 1...10_000)
        if let backoff = try input.object("backoff") { changes.retryPolicy = try backoff.retryPolicy() }
        changes.timeoutMilliseconds = try input.int("timeout_ms", in: 0...315_360_000_000)
        guard !changes.isEmpty else {
            throw APIProblem.invalid(nil, "send at least one of priority, run_at, delay_ms, payload, max_attempts, backoff, timeout_ms")
        }
        return try JSONResponse.make(try await updateJob(id, changes))
    }

    /// Cancels an unfinished job; 409 when it finished, 404 when Redis has no such job.
    public func cancelJob(_ id: String) async throws -> JobStateBody {
        let (outcome, previous) = try await broker.cancel(id)
        switch outcome {
        case .cancelled:
            return JobStateBody(id: id, state: .cancelled, previousState: previous)
        case .alreadyFinished:
            throw APIProblem(
                .conflict, "job '\(id)' already finished (\(previous?.rawValue ?? "finished")); nothing to cancel", field: "id")
        case .notFound:
            throw APIProblem(.notFound, "no job '\(id)' in Redis (finished jobs leave Redis after a while)", field: "id")
        }
    }

    /// Puts a dead or cancelled job back on its queue; 409 for another state or a unique key in use.
    public func retryJob(_ id: String) async throws -> JobStateBody {
        let outcome = try await broker.retry(ids: [id])[id] ?? "notfound"
        switch outcome {
        case "retried":
            return JobStateBody(id: id, state: .queued)
        case "notfound":
            throw APIProblem(.notFound, "no job '\(id)' in Redis", field: "id")
        case "duplicate":
            throw APIProblem(.conflict, "job '\(id)' has a unique key that another unfinished job holds now", field: "id")
        default:
            throw APIProblem(.conflict, "job '\(id)' is \(outcome); only dead or cancelled jobs can be retried", field: "id")
        }
    }
}

/// Query-string parameters, strict: unknown names and repeated names are rejected.
struct QueryInput {
    private var values: [String: String] = [:]

    init(_ request: Request, allowed: Set<String>) throws(APIProblem) {
        for (name, value) in request.uri.queryParameters {
            let name = String(name)
            guard allowed.contains(name) else {
                throw APIProblem.invalid(
                    name, "unknown query parameter '\(name.prefix(60))'; allowed: \(allowed.sorted().joined(separator: ", "))")
            }
            guard values[name] == nil else { throw APIProblem.invalid(name, "query parameter '\(name)' is repeated") }
            values[name] = String(value)
        }
    }

    /// The value as sent (possibly empty).
    subscript(name: String) -> String? { values[name] }

    /// The value, nil when absent or empty.
    func nonEmpty(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }

    func int(_ name: String, in range: ClosedRange<Int>) throws(APIProblem) -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIProblem.invalid(name, "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func date(_ name: String) throws(APIProblem) -> Date? {
        guard let text = self[name] else { return nil }
        guard let date = RFC3339.date(text, requireOffset: true) else {
            throw APIProblem.invalid(name, "'\(name)' must be an RFC 3339 time such as 2026-11-22T10:00:00Z")
        }
        return date
    }
}
