import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

@Suite("API: queues, dead letters, workers, stats, schedules")
struct AdminRouteTests {
    @Test func queuesPauseResumeAndCounts() async throws {
        try await withAPI { servers in
            let api = servers[0].client
            _ = try await api.post(
                "/v1/jobs/batch",
                [
                    "jobs": [
                        ["type": "a", "priority": "high"], ["type": "a"], ["type": "a", "priority": "low"],
                        ["type": "a", "delay_ms": 600_000],
                    ]
                ])
            _ = try await api.post("/v1/jobs", ["type": "b", "queue": "mail"])
            let paused = try await api.post("/v1/queues/mail/pause")
            #expect(paused.status == 200 && paused.json["paused"] as? Bool == true && paused.json["changed"] as? Bool == true)
            #expect(try await api.post("/v1/queues/mail/pause").json["changed"] as? Bool == false)
            let queues = try #require(try await api.get("/v1/queues").json["queues"] as? [String: [String: Any]])
            let main = try #require(queues["default"])
            #expect(main["high"] as? Int == 1 && main["normal"] as? Int == 1 && main["low"] as? Int == 1)
            #expect(main["delayed"] as? Int == 1 && main["running"] as? Int == 0 && main["dead"] as? Int == 0)
            #expect(main["paused"] as? Bool == false && queues["mail"]?["paused"] as? Bool == true)
            #expect(try await api.post("/v1/queues/mail/resume").json["paused"] as? Bool == false)
            #expect(try await servers[0].broker.stats().queues["mail"]?.paused == false)
            expectProblem(try await api.post("/v1/queues/bad%20name/pause"), 400, field: "name")
            expectProblem(try await api.get("/v1/queues?x=1"), 400, field: "x")
        }
    }

    @Test func deadLettersPageRetryAndDelete() async throws {
        try await withAPI(worker: true) { servers in
            let api = servers[0].client
            let jobs = (0..<5).map { _ in ["type": "fail", "payload": ["times": 10], "max_attempts": 1] as [String: Any] }
            let ids = try #require(try await api.post("/v1/jobs/batch", ["jobs": jobs]).json["ids"] as? [String])
            var last: BrokerStats?
            try await eventually(timeout: 30, "\(String(describing: last))") {
                last = try await servers[0].broker.stats()
                return last?.dead == 5
            }
            let queues = try await api.get("/v1/queues").json["queues"] as? [String: [String: Any]]
            #expect(queues?["default"]?["dead"] as? Int == 5)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.get("/v1/dead?limit=2" + (cursor.map { "&cursor=" + $0 } ?? ""))
                #expect(page.status == 200)
                let rows = page.json["jobs"] as? [[String: Any]] ?? []
                #expect(rows.allSatisfy { $0["state"] as? String == "dead" && $0["last_error"] is String })
                seen += rows.compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(Set(seen) == Set(ids) && seen.count == 5)
            expectProblem(try await api.get("/v1/dead?cursor=garbage"), 400, field: "cursor")

            let deleted = try await api.send("DELETE", "/v1/dead/\(ids[0])")
            #expect(deleted.status == 200 && deleted.json["deleted"] as? Bool == true)
            expectProblem(try await api.send("DELETE", "/v1/dead/\(ids[0])"), 404, field: "id")
            // Retried jobs would fail again: hold them in their queue.
            #expect(try await api.post("/v1/queues/default/pause").status == 200)
            let one = try await api.post("/v1/dead/retry", ["ids": [ids[1], "01a00000-0000-7000-8000-000000000000"]])
            #expect(one.status == 200 && one.json["retried"] as? Int == 1)
            #expect((one.json["results"] as? [String: String])?["01a00000-0000-7000-8000-000000000000"] == "notfound")
            #expect(try await servers[0].broker.stats().dead == 3)
            // Repeated ids (valid or not) count once.
            let twice = try await api.post("/v1/dead/retry", ["ids": ["", "", ids[2], ids[2]]])
            #expect(twice.status == 200 && twice.json["retried"] as? Int == 1)
            #expect((twice.json["results"] as? [String: String]) == ["": "notfound", ids[2]: "retried"])
            let all = try await api.post("/v1/dead/retry", ["all": true])
            #expect(all.status == 200 && all.json["retried"] as? Int == 2)
            #expect(try await servers[0].broker.stats().queues["default"]?.normal == 4)
            for body: Any in [
                [:] as [String: Any], ["ids": [ids[1]], "all": true], ["ids": []], ["all": "yes"], ["ids": [5]], ["every": true],
            ] {
                expectProblem(try await api.post("/v1/dead/retry", body), 400)
            }
        }
    }

    @Test func workersAndStats() async throws {
        try await withAPI(history: true, worker: true) { servers in
            let api = servers[0].client
            _ = try await api.post(
                "/v1/jobs/batch",
                ["jobs": [["type": "echo"], ["type": "echo"], ["type": "fail", "payload": ["times": 9], "max_attempts": 1]]])
            try await eventually(timeout: 30) {
                let stats = try await api.get("/v1/stats").json
                let byState = stats["by_state"] as? [String: Int] ?? [:]
                return byState["succeeded"] == 2 && byState["dead"] == 1
            }
            let stats = try await api.get("/v1/stats?hours=2").json
            #expect((stats["by_type"] as? [String: Int]) == ["echo": 2, "fail": 1])
            let minutes = try #require(stats["per_minute"] as? [[String: Any]])
            #expect(minutes.reduce(0) { $0 + ($1["succeeded"] as? Int ?? 0) } == 2)
            #expect(minutes.reduce(0) { $0 + ($1["failed"] as? Int ?? 0) } == 1)
            #expect(stats["hours"] as? Int == 2)
            #expect(((stats["broker"] as? [String: Any])?["totals"] as? [String: Int])?["enqueued"] == 3)
            expectProblem(try await api.get("/v1/stats?hours=0"), 400, field: "hours")

            let workers = try #require(try await api.get("/v1/workers").json["workers"] as? [[String: Any]])
            #expect(workers.count == 1)
            #expect(workers[0]["queues"] as? [String] == ["default", "mail"])
            #expect((workers[0]["heartbeat_age_ms"] as? Int).map { $0 >= 0 && $0 < 60_000 } == true)
            #expect(workers[0]["running"] is [String] && workers[0]["concurrency"] is Int && workers[0]["pid"] is Int)
        }
    }

    /// GET /v1/stats/throughput: the server samples the totals on its own (nobody subscribed), and
    /// the points' counts add up to the attempts that succeeded and failed meanwhile.
    @Test func throughputOfTheLastMinutes() async throws {
        try await withAPI(worker: true, events: EventHubOptions(statsInterval: .milliseconds(200))) { servers in
            let api = servers[0].client
            func points() async throws -> [[String: Any]] {
                let body = try await api.get("/v1/stats/throughput").json
                #expect(body["interval_seconds"] as? Double == 0.2)
                return body["points"] as? [[String: Any]] ?? []
            }
            try await eventually("no sample pair yet") { try await !points().isEmpty }
            let before = try await points().count
            _ = try await api.post(
                "/v1/jobs/batch",
                [
                    "jobs": [
                        ["type": "echo"], ["type": "echo"], ["type": "echo"], ["type": "fail", "payload": ["times": 9], "max_attempts": 1],
                    ]
                ])
            try await eventually(timeout: 30, "the points do not add up to 3 succeeded and 1 failed") {
                let all = try await points()
                return all.reduce(0) { $0 + ($1["succeeded"] as? Int ?? 0) } == 3 && all.reduce(0) { $0 + ($1["failed"] as? Int ?? 0) } == 1
            }
            let all = try await points()
            #expect(all.count > before)
            for point in all {
                #expect(point["at"] is String)
                // About the 0.2 s interval; a sample whose HMGET was slow shortens the gap to the next.
                #expect((point["seconds"] as? Double).map { $0 > 0 && $0 < 5 } == true)
            }
            expectProblem(try await api.get("/v1/stats/throughput?minutes=5"), 400, field: "minutes")
        }
    }

    @Test func schedulesThroughTheAPI() async throws {
        try await withAPI { servers in
            let api = servers[0].client
            let created = try await api.post(
                "/v1/schedules",
                [
                    "name": "nightly", "expression": "0 3 * * *", "tz": "Europe/Paris", "type": "report", "payload": ["k": 1],
                    "queue": "mail",
                ])
            #expect(created.status == 201)
            #expect((created.json["next"] as? [String])?.count == 5)
            #expect(created.json["tz"] as? String == "Europe/Paris" && created.json["paused"] as? Bool == false)
            expectProblem(
                try await api.post("/v1/schedules", ["name": "nightly", "expression": "@daily", "type": "x"]), 409, field: "name")
            expectProblem(
                try await api.post("/v1/schedules", ["name": "bad", "expression": "61 * * * *", "type": "x"]), 400, field: "expression")
            expectProblem(
                try await api.post("/v1/schedules", ["name": "bad", "expression": "@daily", "type": "x", "tz": "Mars/Base"]), 400,
                field: "tz")
            expectProblem(
                try await api.post("/v1/schedules", ["name": "bad", "expression": "@daily", "type": "x", "delay_ms": 5]), 400,
                field: "delay_ms")
            expectProblem(try await api.post("/v1/schedules", ["name": "b c", "expression": "@daily", "type": "x"]), 400, field: "name")
            expectProblem(
                try await api.post("/v1/schedules", ["name": "m", "expression": "@daily", "type": "x", "misfire": "some"]), 400,
                field: "misfire")

            #expect(try await api.get("/v1/schedules/nightly").json["queue"] as? String == "mail")
            let replaced = try await api.send(
                "PUT", "/v1/schedules/nightly", json: ["expression": "every 30s", "type": "report", "misfire": "one"])
            #expect(
                replaced.status == 200 && replaced.json["expression"] as? String == "every 30s"
                    && replaced.json["misfire"] as? String == "one")
            let put = try await api.send("PUT", "/v1/schedules/hourly", json: ["expression": "@hourly", "type": "x", "no_overlap": true])
            #expect(put.status == 201 && put.json["no_overlap"] as? Bool == true)
            #expect(
                (try await api.get("/v1/schedules").json["schedules"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == [
                    "hourly", "nightly",
                ])

            #expect(try await api.post("/v1/schedules/nightly/pause").json["paused"] as? Bool == true)
            #expect((try await api.get("/v1/schedules/nightly").json["next"] as? [Any])?.isEmpty == true)
            #expect(try await api.post("/v1/schedules/nightly/resume").json["paused"] as? Bool == false)
            let run = try await api.post("/v1/schedules/nightly/run")
            #expect(run.status == 201)
            let id = try #require(run.json["id"] as? String)
            let job = try await api.get("/v1/jobs/\(id)").json
            #expect(job["schedule"] as? String == "nightly" && job["type"] as? String == "report")

            #expect(try await api.send("DELETE", "/v1/schedules/nightly").status == 200)
            for (method, path) in [
                ("GET", "/v1/schedules/nightly"), ("DELETE", "/v1/schedules/nightly"), ("POST", "/v1/schedules/nightly/pause"),
                ("POST", "/v1/schedules/nightly/resume"), ("POST", "/v1/schedules/nightly/run"),
            ] {
                expectProblem(try await api.send(method, path), 404, field: "name")
            }
        }
    }
}
