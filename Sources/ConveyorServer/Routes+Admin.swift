import Conveyor
import ConveyorHistory
import Foundation
import HTTPTypes
import Hummingbird

extension ConveyorAPI {
    /// `GET /v1/queues`: every known queue's counts.
    func listQueues(_ request: Request) async throws -> Response {
        _ = try QueryInput(request, allowed: [])
        return try JSONResponse.make(QueuesBody(queues: try await queueBodies()))
    }

    /// Every known queue: waiting jobs by priority, delayed, running and dead jobs, and whether paused.
    public func queueBodies() async throws -> [String: QueueBody] {
        QueueBody.all(stats: try await broker.stats(), counts: try await broker.queueCounts())
    }

    /// Pauses or resumes a queue; `changed` is false when it already was so.
    public func setPaused(queue name: String, _ pause: Bool) async throws -> PauseBody {
        guard Names.isValid(name) else {
            throw APIProblem.invalid("name", "queue '\(name.prefix(100))' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        let changed = pause ? try await broker.pause(queue: name) : try await broker.resume(queue: name)
        return PauseBody(queue: name, paused: pause, changed: changed)
    }

    /// `GET /v1/dead`: dead-letter jobs, most recent first, cursor-paged.
    func listDead(_ request: Request) async throws -> Response {
        let query = try QueryInput(request, allowed: ["limit", "cursor"])
        let limit = try query.int("limit", in: 1...1_000) ?? 100
        return try JSONResponse.make(try await deadJobs(limit: limit, cursor: query["cursor"]))
    }

    /// Deletes a dead job for good; 404 when there is no such dead job.
    public func deleteDead(_ id: String) async throws -> DeletedBody {
        guard try await broker.deleteDead(ids: [id]) == 1 else { throw APIProblem(.notFound, "no dead job '\(id)'", field: "id") }
        return DeletedBody(id: id)
    }

    func listWorkers(_ request: Request) async throws -> Response {
        _ = try QueryInput(request, allowed: [])
        return try JSONResponse.make(try await workers())
    }

    func stats(_ request: Request) async throws -> Response {
        let query = try QueryInput(request, allowed: ["hours"])
        return try JSONResponse.make(try await stats(hours: try query.int("hours", in: 1...168) ?? 1))
    }

    /// `GET /v1/stats/throughput`: attempts succeeded and failed in each ~1 s interval of the last 5
    /// minutes, as this server sampled the totals (the dashboard's overview chart starts from it).
    func throughput(_ request: Request) throws -> Response {
        _ = try QueryInput(request, allowed: [])
        let seconds =
            Double(events.options.statsInterval.components.seconds)
            + Double(events.options.statsInterval.components.attoseconds) / 1e18
        return try JSONResponse.make(ThroughputBody(intervalSeconds: seconds, points: events.throughput()))
    }

    func retryDead(_ request: Request) async throws -> Response {
        let input = try JSONInput(body: try await Self.body(request, limit: 1 << 20))
        try input.allowOnly(["ids", "all"])
        let all = try input.bool("all")
        let ids = try input.array("ids")
        switch (ids, all) {
        case (nil, true?):
            return try JSONResponse.make(try await retryDead(ids: nil))
        case (let ids?, nil), (let ids?, false?):
            var strings: [String] = []
            for (index, id) in ids.enumerated() {
                guard let text = id as? String else { throw APIProblem.invalid("ids[\(index)]", "'ids[\(index)]' must be a string") }
                strings.append(text)
            }
            return try JSONResponse.make(try await retryDead(ids: strings))
        default:
            throw APIProblem.invalid("ids", "send either {\"ids\": [...]} or {\"all\": true}")
        }
    }
}
