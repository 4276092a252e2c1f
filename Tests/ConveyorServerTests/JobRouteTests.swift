import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

@Suite("API: jobs")
struct JobRouteTests {
    @Test func enqueueRunAndReadTheTimeline() async throws {
        try await withAPI(history: true, worker: true) { servers in
            let api = servers[0].client
            let created = try await api.post(
                "/v1/jobs",
                [
                    "type": "echo", "payload": ["to": "a@example.com", "n": [1, 2]], "queue": "mail", "priority": "high", "max_attempts": 2,
                    "backoff": ["kind": "fixed", "base_ms": 10], "timeout_ms": 5_000,
                ])
            #expect(created.status == 201)
            let id = try #require(created.json["id"] as? String)
            #expect(created.json["state"] as? String == "queued")
            #expect(created[header: "location"] == "/v1/jobs/" + id)
            try await eventually(timeout: 30) {
                let reply = try await api.get("/v1/jobs/" + id)
                let events = (reply.json["timeline"] as? [[String: Any]])?.compactMap { $0["event"] as? String } ?? []
                return reply.json["state"] as? String == "succeeded" && events.contains("succeeded")
            }
            let job = try await api.get("/v1/jobs/" + id).json
            #expect(job["source"] as? String == "redis")
            #expect(job["queue"] as? String == "mail" && job["priority"] as? String == "high")
            #expect((job["payload"] as? [String: Any])?["to"] as? String == "a@example.com")
            #expect((job["started_at"] as? String).flatMap { RFC3339.date($0) } != nil)
            let timeline = try #require(job["timeline"] as? [[String: Any]])
            #expect(timeline.compactMap { $0["event"] as? String } == ["enqueued", "started", "succeeded"])
            #expect(timeline.allSatisfy { ($0["ts"] as? String).flatMap { RFC3339.date($0) } != nil })

            // Once the job left Redis, the history document answers.
            _ = try await servers[0].broker.pool.command("DEL", servers[0].broker.keys.job(id))
            let stored = try await api.get("/v1/jobs/" + id)
            #expect(stored.status == 200)
            #expect(stored.json["source"] as? String == "history")
            #expect(stored.json["id"] as? String == id && stored.json["state"] as? String == "succeeded")
            #expect((stored.json["timeline"] as? [Any])?.count == 3)

            // The list from the history.
            let listed = try await api.get("/v1/jobs?state=succeeded&queue=mail&limit=10")
            #expect(listed.status == 200)
            #expect((listed.json["jobs"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            #expect(listed.json["next_cursor"] is NSNull)

            expectProblem(try await api.get("/v1/jobs/01a00000-0000-7000-8000-000000000000"), 404, field: "id")
            expectProblem(try await api.get("/v1/jobs/not%20an%20id"), 404, field: "id")
        }
    }

    @Test func listPagesWithACursorAndFilters() async throws {
        try await withAPI(history: true) { servers in
            let api = servers[0].client
            let reply = try await api.post(
                "/v1/jobs/batch", ["jobs": (0..<25).map { ["type": $0 % 2 == 0 ? "even" : "odd", "delay_ms": 600_000] }])
            #expect(reply.status == 201)
            let ids = try #require(reply.json["ids"] as? [String])
            try await eventually(timeout: 30) {
                (try await api.get("/v1/jobs?limit=1000").json["jobs"] as? [Any])?.count == 25
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.get("/v1/jobs?limit=10" + (cursor.map { "&cursor=" + $0 } ?? ""))
                #expect(page.status == 200)
                seen += (page.json["jobs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            // Newest first by id (UUIDv7: creation order, random within one millisecond).
            #expect(seen == ids.sorted(by: >))
            let even = try await api.get("/v1/jobs?type=even&state=scheduled").json["jobs"] as? [Any]
            #expect(even?.count == 13)
            // Any text may be searched for, a NUL byte included (found by Schemathesis: it was a 503).
            let nul = try await api.get("/v1/jobs?q=E%C2%8F%00o%18k")
            #expect(nul.status == 200 && (nul.json["jobs"] as? [Any])?.isEmpty == true)
            let future = try await api.get("/v1/jobs?since=2100-01-01T00:00:00Z").json["jobs"] as? [Any]
            #expect(future?.isEmpty == true)
            expectProblem(try await api.get("/v1/jobs?state=bogus"), 400, field: "state")
            expectProblem(try await api.get("/v1/jobs?limit=1001"), 400, field: "limit")
            expectProblem(try await api.get("/v1/jobs?since=yesterday"), 400, field: "since")
            expectProblem(try await api.get("/v1/jobs?cursor=%7B%7D"), 400, field: "cursor")
            expectProblem(try await api.get("/v1/jobs?color=red"), 400, field: "color")
        }
    }

    @Test func badInputIsRejectedAndEnqueuesNothing() async throws {
        try await withAPI(configure: { $0.maxBatch = 5 }) { servers in
            let api = servers[0].client
            let cases: [(String, String?)] = [
                (#"{"type":"#, nil), ("[]", nil), ("", nil), (#"{"payload":{}}"#, "type"), (#"{"type":7}"#, "type"),
                (#"{"type":""}"#, "type"), (#"{"type":"x","bogus":1}"#, "bogus"), (#"{"type":"x","priority":"urgent"}"#, "priority"),
                (#"{"type":"x","delay_ms":-1}"#, "delay_ms"), (#"{"type":"x","delay_ms":1.5}"#, "delay_ms"),
                (#"{"type":"x","delay_ms":1e300}"#, "delay_ms"), (#"{"type":"x","delay_ms":"5"}"#, "delay_ms"),
                (#"{"type":"x","delay_ms":5,"run_at":"2030-01-01T00:00:00Z"}"#, "run_at"), (#"{"type":"x","run_at":"soon"}"#, "run_at"),
                (#"{"type":"x","queue":null}"#, "queue"), (#"{"type":"x","max_attempts":0}"#, "max_attempts"),
                (#"{"type":"a\u0007"}"#, "type"),
                (#"{"type":"x","max_attempts":true}"#, "max_attempts"), (#"{"type":"x","timeout_ms":-3}"#, "timeout_ms"),
                (#"{"type":"x","queue":"a b"}"#, "queue"), (#"{"type":"x","queue":5}"#, "queue"),
                (#"{"type":"x","backoff":{"kind":"linear"}}"#, "backoff.kind"),
                (#"{"type":"x","backoff":{"base_ms":-1}}"#, "backoff.base_ms"),
                (#"{"type":"x","backoff":{"jitter":2}}"#, "backoff.jitter"),
                (#"{"type":"x","backoff":{"kind":"fixed","max_ms":5}}"#, "backoff.max_ms"),
                (#"{"type":"x","backoff":{"kind":"none","base_ms":5}}"#, "backoff.base_ms"),
                (#"{"type":"x","backoff":{"max_ms":{}}}"#, "backoff.max_ms"),
                (#"{"type":"x","run_at":"2024-01-01T12:99:00Z"}"#, "run_at"),
                (#"{"type":"x","backoff":[]}"#, "backoff"), (#"{"type":"x","backoff":{"x":1}}"#, "backoff.x"),
                (#"{"type":"x","unique_key":""}"#, "unique_key"),
            ]
            for (body, field) in cases {
                let reply = try await api.send("POST", "/v1/jobs", raw: body)
                expectProblem(reply, 400, field: field)
            }
            let big = String(repeating: "x", count: (1 << 20) + 10)
            expectProblem(try await api.post("/v1/jobs", ["type": "x", "payload": big]), 413)
            expectProblem(try await api.send("POST", "/v1/jobs", raw: String(repeating: " ", count: 3 << 20)), 413)
            // Batches: all or nothing, with the index of the bad job.
            expectProblem(
                try await api.post("/v1/jobs/batch", ["jobs": [["type": "a"], ["type": "b", "priority": "x"]]]), 400,
                field: "jobs[1].priority")
            expectProblem(try await api.post("/v1/jobs/batch", ["jobs": []]), 400, field: "jobs")
            expectProblem(try await api.post("/v1/jobs/batch", ["jobs": Array(repeating: ["type": "a"], count: 6)]), 400, field: "jobs")
            expectProblem(try await api.post("/v1/jobs/batch", ["jobs": [1]]), 400, field: "jobs[0]")
            expectProblem(try await api.post("/v1/jobs/batch", ["jobs": [["type": "a"]], "extra": 1]), 400, field: "extra")
            let totals = try await servers[0].broker.stats().totals
            #expect(totals["enqueued"] ?? 0 == 0)
            // A run_at in the past runs now.
            #expect(try await api.post("/v1/jobs", ["type": "x", "run_at": "1999-01-01T00:00:00Z"]).json["state"] as? String == "queued")
            // And the server is still fine.
            #expect(try await api.post("/v1/jobs/batch", ["jobs": Array(repeating: ["type": "a"], count: 5)]).status == 201)
        }
    }

    @Test func uniqueKeysAndIdempotencyKeysReturnTheExistingJob() async throws {
        try await withAPI { servers in
            let api = servers[0].client
            let first = try await api.send("POST", "/v1/jobs", json: ["type": "x"], headers: ["Idempotency-Key": "order-7"])
            #expect(first.status == 201)
            let again = try await api.send("POST", "/v1/jobs", json: ["type": "x"], headers: ["Idempotency-Key": "order-7"])
            #expect(again.status == 200)
            #expect(again.json["duplicate"] as? Bool == true && again.json["id"] as? String == first.json["id"] as? String)
            let byBody = try await api.post("/v1/jobs", ["type": "x", "unique_key": "order-7"])
            #expect(byBody.status == 200 && byBody.json["id"] as? String == first.json["id"] as? String)
            // The body's key wins over the header.
            let both = try await api.send(
                "POST", "/v1/jobs", json: ["type": "x", "unique_key": "order-7"], headers: ["Idempotency-Key": "b"])
            #expect(both.status == 200 && both.json["id"] as? String == first.json["id"] as? String)
            let batch = try await api.post("/v1/jobs/batch", ["jobs": [["type": "x", "unique_key": "order-7"], ["type": "y"]]])
            #expect(batch.status == 201)
            #expect(batch.json["duplicates"] as? [Int] == [0])
        }
    }

    @Test func cancelAndRetry() async throws {
        try await withAPI { servers in
            let api = servers[0].client
            let id = try #require(try await api.post("/v1/jobs", ["type": "x", "delay_ms": 600_000]).json["id"] as? String)
            let retryQueued = try await api.post("/v1/jobs/\(id)/retry")
            expectProblem(retryQueued, 409, field: "id")
            let cancelled = try await api.post("/v1/jobs/\(id)/cancel")
            #expect(cancelled.status == 200)
            #expect(cancelled.json["state"] as? String == "cancelled" && cancelled.json["previous_state"] as? String == "scheduled")
            expectProblem(try await api.post("/v1/jobs/\(id)/cancel"), 409, field: "id")
            let retried = try await api.post("/v1/jobs/\(id)/retry")
            #expect(retried.status == 200 && retried.json["state"] as? String == "queued")
            #expect(try await servers[0].broker.job(id)?.state == .queued)
            let unknown = "01a00000-0000-7000-8000-000000000000"
            expectProblem(try await api.post("/v1/jobs/\(unknown)/cancel"), 404, field: "id")
            expectProblem(try await api.post("/v1/jobs/\(unknown)/retry"), 404, field: "id")
        }
    }
}
