import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

/// `PATCH /v1/jobs/{id}` over real HTTP: each field, each state, bad input, and the spec's shape.
@Suite("API: update a pending job")
struct UpdateRouteTests {
    @Test func eachFieldOfAScheduledJob() async throws {
        try await withAPI(history: true) { servers in
            let api = servers[0].client
            let broker = servers[0].broker
            let id = try #require(
                try await api.post("/v1/jobs", ["type": "x", "queue": "patch", "delay_ms": 600_000]).json["id"] as? String)
            let reply = try await api.send(
                "PATCH", "/v1/jobs/" + id,
                raw: #"{"priority":"high","payload":{"n":9007199254740993},"max_attempts":7,"backoff":{"kind":"none"},"timeout_ms":1234}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["state"] as? String == "scheduled" && reply.json["previous_state"] as? String == "scheduled")
            #expect(Set(reply.json["changed"] as? [String] ?? []) == ["priority", "payload", "max_attempts", "backoff", "timeout_ms"])
            let job = try #require(try await broker.job(id))
            #expect(job.priority == .high && job.maxAttempts == 7 && job.retryPolicy == .none && job.timeoutMilliseconds == 1234)
            #expect(job.payload == #"{"n":9007199254740993}"#)
            // A run time now makes it queued; a later one scheduled again.
            let now = try await api.send("PATCH", "/v1/jobs/" + id, json: ["delay_ms": 0])
            #expect(now.json["state"] as? String == "queued" && now.json["changed"] as? [String] == ["run_at"])
            #expect(try await broker.stats().queues["patch"]?.high == 1)
            let later = try await api.send("PATCH", "/v1/jobs/" + id, json: ["run_at": "2099-01-01T00:00:00Z"])
            #expect(later.json["state"] as? String == "scheduled" && later.json["previous_state"] as? String == "queued")
            // The same values again change nothing.
            let same = try await api.send("PATCH", "/v1/jobs/" + id, json: ["max_attempts": 7])
            #expect(same.status == 200 && (same.json["changed"] as? [String])?.isEmpty == true)
            // The history writer records the update.
            try await eventually(timeout: 20) {
                let timeline = try await api.get("/v1/jobs/" + id).json["timeline"] as? [[String: Any]] ?? []
                return timeline.filter { $0["event"] as? String == "updated" }.count >= 3
            }
        }
    }

    @Test func runningFinishedUnknownAndBadInput() async throws {
        try await withAPI(worker: true) { servers in
            let api = servers[0].client
            let running = try #require(try await api.post("/v1/jobs", ["type": "sleep", "payload": ["ms": 5_000]]).json["id"] as? String)
            try await eventually(timeout: 20) { try await servers[0].broker.job(running)?.state == .running }
            let refused = try await api.send("PATCH", "/v1/jobs/" + running, json: ["priority": "low"])
            expectProblem(refused, 409, field: "id")
            #expect((refused.json["detail"] as? String)?.contains("running") == true)
            #expect(try await servers[0].broker.job(running)?.priority == .normal)
            let done = try #require(try await api.post("/v1/jobs", ["type": "noop"]).json["id"] as? String)
            try await eventually(timeout: 20) { try await servers[0].broker.job(done)?.state == .succeeded }
            expectProblem(try await api.send("PATCH", "/v1/jobs/" + done, json: ["max_attempts": 2]), 409)
            expectProblem(try await api.send("PATCH", "/v1/jobs/no-such-job", json: ["max_attempts": 2]), 404)
            let pending = try #require(try await api.post("/v1/jobs", ["type": "x", "delay_ms": 600_000]).json["id"] as? String)
            for (body, field) in [
                (#"{}"#, nil), (#"{"priority":"urgent"}"#, "priority"), (#"{"delay_ms":5,"run_at":"2099-01-01T00:00:00Z"}"#, "run_at"),
                (#"{"max_attempts":0}"#, "max_attempts"), (#"{"state":"queued"}"#, "state"), (#"{"payload":{"e":1E400}}"#, "payload"),
                (#"{"backoff":{"kind":"fixed","jitter":3}}"#, "backoff.jitter"), (#"{"timeout_ms":-1}"#, "timeout_ms"),
            ] as [(String, String?)] {
                let reply = try await api.send("PATCH", "/v1/jobs/" + pending, raw: body)
                expectProblem(reply, 400, field: field)
            }
            // Roles: admin only.
            expectProblem(try await api.with(key: Keys.submit).send("PATCH", "/v1/jobs/" + pending, json: ["max_attempts": 2]), 403)
            #expect(try await servers[0].broker.job(pending)?.maxAttempts == 3)
        }
    }
}
