import Conveyor
import ConveyorHistory
import Foundation
import HTTPTypes
import Hummingbird

extension ConveyorAPI {
    /// Queues, dead letters, workers and statistics.
    func addAdminRoutes(to router: Router<ConveyorRequestContext>) {
        router.get("/v1/queues") { request, _ in
            _ = try QueryInput(request, allowed: [])
            return JSONResponse.make(["queues": try await self.queueObjects()])
        }
        router.post("/v1/queues/:name/pause") { _, context in try await self.setPaused(context, true) }
        router.post("/v1/queues/:name/resume") { _, context in try await self.setPaused(context, false) }
        router.get("/v1/dead") { request, _ in
            let query = try QueryInput(request, allowed: ["limit", "cursor"])
            let limit = try query.int("limit", in: 1...1_000) ?? 100
            let page: (jobs: [Job], nextCursor: String?)
            do { page = try await self.broker.deadJobs(limit: limit, cursor: query["cursor"]) } catch let error as ConveyorError {
                throw APIProblem.invalid("cursor", error.message)
            }
            return JSONResponse.make(["jobs": page.jobs.map(\.jsonObject), "next_cursor": orNull(page.nextCursor)])
        }
        router.post("/v1/dead/retry") { request, _ in try await self.retryDead(request) }
        router.delete("/v1/dead/:id") { _, context in
            let id = try Self.jobID(context)
            guard try await self.broker.deleteDead(ids: [id]) == 1 else {
                throw APIProblem(.notFound, "no dead job '\(id)'", field: "id")
            }
            return JSONResponse.make(["id": id, "deleted": true])
        }
        router.get("/v1/workers") { request, _ in
            _ = try QueryInput(request, allowed: [])
            let now = Date().timeIntervalSince1970
            let workers: [Any] = try await self.broker.workers().map { worker in
                [
                    "id": worker.id, "host": worker.host, "pid": worker.pid, "queues": worker.queues, "concurrency": worker.concurrency,
                    "running": worker.running, "started_at": RFC3339.string(Date(timeIntervalSince1970: worker.startedAt)),
                    "heartbeat_at": RFC3339.string(Date(timeIntervalSince1970: worker.heartbeatAt)),
                    "heartbeat_age_ms": max(0, Int(((now - worker.heartbeatAt) * 1000).rounded())),
                ] as [String: Any]
            }
            return JSONResponse.make(["workers": workers])
        }
        router.get("/v1/stats") { request, _ in
            let query = try QueryInput(request, allowed: ["hours"])
            let hours = try query.int("hours", in: 1...168) ?? 1
            let broker = try await self.broker.stats()
            let counts = try await self.history.counts()
            let minutes = try await self.history.perMinute(hours: Double(hours))
            return JSONResponse.make([
                "by_state": counts.byState, "by_type": counts.byType, "hours": hours,
                "per_minute": minutes.map { ["minute": RFC3339.string($0.minute), "succeeded": $0.succeeded, "failed": $0.failed] },
                "broker": broker.jsonObject,
            ])
        }
    }

    /// Every known queue: waiting jobs by priority, delayed, running and dead jobs, and whether paused.
    func queueObjects() async throws -> [String: Any] {
        let stats = try await broker.stats()
        let counts = try await broker.queueCounts()
        var queues: [String: Any] = [:]
        for name in Set(stats.queues.keys).union(counts.keys) {
            let depth = stats.queues[name]
            let count = counts[name]
            queues[name] =
                [
                    "high": depth?.high ?? 0, "normal": depth?.normal ?? 0, "low": depth?.low ?? 0, "delayed": count?.delayed ?? 0,
                    "running": count?.running ?? 0, "dead": count?.dead ?? 0, "paused": depth?.paused ?? false,
                ] as [String: Any]
        }
        return queues
    }

    func setPaused(_ context: ConveyorRequestContext, _ pause: Bool) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        guard Names.isValid(name) else {
            throw APIProblem.invalid("name", "queue '\(name.prefix(100))' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        let changed = pause ? try await broker.pause(queue: name) : try await broker.resume(queue: name)
        return JSONResponse.make(["queue": name, "paused": pause, "changed": changed])
    }

    func retryDead(_ request: Request) async throws -> Response {
        let input = try JSONInput(body: try await Self.body(request, limit: 1 << 20))
        try input.allowOnly(["ids", "all"])
        let all = try input.bool("all")
        let ids = try input.array("ids")
        switch (ids, all) {
        case (nil, true?):
            return JSONResponse.make(["retried": try await broker.retryAllDead()])
        case (let ids?, nil), (let ids?, false?):
            guard (1...configuration.maxBatch).contains(ids.count) else {
                throw APIProblem.invalid("ids", "'ids' must hold from 1 to \(configuration.maxBatch) job ids")
            }
            var strings: [String] = []
            for (index, id) in ids.enumerated() {
                guard let text = id as? String else { throw APIProblem.invalid("ids[\(index)]", "'ids[\(index)]' must be a string") }
                strings.append(text)
            }
            let outcome = try await broker.retry(ids: strings)
            return JSONResponse.make(["retried": outcome.values.filter { $0 == "retried" }.count, "results": outcome])
        default:
            throw APIProblem.invalid("ids", "send either {\"ids\": [...]} or {\"all\": true}")
        }
    }
}
