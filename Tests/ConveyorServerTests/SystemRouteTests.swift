import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("API: health, metrics, OpenAPI")
struct SystemRouteTests {
    @Test func readinessNamesTheServerThatIsDown() async throws {
        try await withAPI { servers in
            let ready = try await servers[0].client.get("/readyz")
            #expect(
                ready.status == 200
                    && (ready.json["checks"] as? [String: String]) == ["redis": "ok", "mongodb": "ok", "redis_eviction": "ok"])
        }
        let closed = try freePort()
        try await withAPI(mongoURL: "mongodb://127.0.0.1:\(closed)/x?serverSelectionTimeoutMS=500") { servers in
            let api = servers[0].client
            #expect(try await api.get("/healthz").status == 200)
            let ready = try await api.get("/readyz")
            expectProblem(ready, 503)
            let checks = ready.json["checks"] as? [String: String]
            #expect(checks?["redis"] == "ok" && checks?["mongodb"]?.hasPrefix("unreachable") == true)
            #expect((ready.json["detail"] as? String)?.contains("mongodb") == true)
            // Routes that need the history say so; the others keep working.
            expectProblem(try await api.get("/v1/jobs"), 503)
            let id = try #require(try await api.post("/v1/jobs", ["type": "x"]).json["id"] as? String)
            let job = try await api.get("/v1/jobs/\(id)")
            #expect(job.status == 200 && job.json["timeline"] is NSNull && job.json["state"] as? String == "queued")
        }
    }

    @Test func readinessReportsAnEvictingRedis() async throws {
        let redis = try TestRedis(extraArguments: ["--maxmemory-policy", "allkeys-lru"])
        defer { redis.stop() }
        // Allowed: ready, with the policy reported.
        try await withAPI(redis: redis, configureBroker: { $0.allowEviction = true }) { servers in
            let ready = try await servers[0].client.get("/readyz")
            #expect(ready.status == 200, "\(ready.text)")
            let eviction = (ready.json["checks"] as? [String: String])?["redis_eviction"]
            #expect(eviction?.contains("allkeys-lru") == true && eviction?.contains("allowed") == true, "\(ready.text)")
        }
        // Not allowed: a Redis switched to an evicting policy is refused on reconnect, and not ready.
        let switching = try TestRedis()
        defer { switching.stop() }
        let admin = RedisPool(configuration: switching.configuration, size: 1)
        defer { admin.close() }
        try await withAPI(redis: switching) { servers in
            let api = servers[0].client
            #expect(try await api.get("/readyz").status == 200)
            try await admin.command("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
            try await admin.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            var last: Reply?
            try await eventually(timeout: 10, "readyz did not report the evicting policy: \(last?.text ?? "")") {
                last = try await api.get("/readyz")
                return last?.status == 503 && last?.text.contains("volatile-ttl") == true
            }
            let checks = try #require(last?.json["checks"] as? [String: String])
            #expect(checks["redis"]?.contains("maxmemory-policy") == true && checks["redis_eviction"]?.contains("volatile-ttl") == true)
            try await admin.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
            try await admin.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            try await eventually(timeout: 10, "readyz did not recover") { try await api.get("/readyz").status == 200 }
        }
    }

    @Test func metricsShowTheClusterAndTheHTTPTraffic() async throws {
        try await withAPI(worker: true) { servers in
            let api = servers[0].client
            _ = try await api.post(
                "/v1/jobs/batch",
                [
                    "jobs": [
                        ["type": "echo"], ["type": "echo", "queue": "mail"],
                        ["type": "fail", "payload": ["times": 5], "max_attempts": 2, "backoff": ["kind": "none"]],
                    ]
                ])
            _ = try await api.post("/v1/jobs", ["type": "x", "queue": "later", "delay_ms": 600_000])
            try await eventually(timeout: 30) {
                let totals = try await servers[0].broker.stats().totals
                return totals["succeeded"] == 2 && totals["dead"] == 1
            }
            _ = try await api.get("/v1/jobs/unknown")
            let reply = try await api.get("/metrics")
            #expect(reply.status == 200 && reply[header: "content-type"]?.hasPrefix("text/plain") == true)
            let text = reply.text
            for line in [
                #"conveyor_jobs_total{outcome="enqueued"} 4"#, #"conveyor_jobs_total{outcome="succeeded"} 2"#,
                #"conveyor_jobs_delayed{queue="later"} 1"#, #"conveyor_queue_depth{queue="mail",priority="normal"} 0"#,
                #"conveyor_http_requests_total{method="POST",route="/v1/jobs/batch",status="201"} 1"#,
                #"conveyor_http_requests_total{method="GET",route="/v1/jobs/{id}",status="404"} 1"#, "conveyor_event_stream_length ",
                "conveyor_history_lag_events ", "# TYPE conveyor_http_request_duration_seconds histogram",
                #"conveyor_jobs_enqueued_total{queue="mail",type="echo"} 1"#,
                #"conveyor_jobs_enqueued_total{queue="default",type="echo"} 1"#,
                #"conveyor_jobs_succeeded_total{queue="mail",type="echo"} 1"#,
                #"conveyor_jobs_failed_total{queue="default",type="fail"} 2"#,
                #"conveyor_jobs_dead_total{queue="default",type="fail"} 1"#,
                #"conveyor_job_duration_seconds_bucket{queue="default",type="echo",le="+Inf"} 1"#,
                #"conveyor_job_duration_seconds_count{queue="default",type="fail"} 2"#,
                #"conveyor_job_wait_seconds_bucket{queue="mail",type="echo",le="+Inf"} 1"#, "# TYPE conveyor_job_wait_seconds histogram",
            ] {
                #expect(text.contains(line), "missing \(line)")
            }
        }
    }

    @Test func openAPIDescribesEveryRoute() async throws {
        try await withAPI { servers in
            let document = try await servers[0].client.with(key: nil).get("/openapi.json").json
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let expected = Dictionary(uniqueKeysWithValues: ConveyorAPI.routes.map { ($0.path, Set($0.methods.map { $0.lowercased() })) })
            #expect(expected.count == 22)
            #expect(Set(paths.keys) == Set(expected.keys))
            for (path, methods) in expected { #expect(Set(paths[path]?.keys ?? [:].keys) == methods, "\(path)") }
            // A known path with another method: 405 naming the allowed ones.
            let wrong = try await servers[0].client.send("PATCH", "/v1/jobs")
            expectProblem(wrong, 405)
            #expect(wrong[header: "Allow"] == "GET, POST")
            #expect(try await servers[0].client.send("PUT", "/v1/jobs/abc/cancel")[header: "Allow"] == "POST")
            expectProblem(try await servers[0].client.send("PATCH", "/v1/nowhere"), 404)
        }
    }
}
