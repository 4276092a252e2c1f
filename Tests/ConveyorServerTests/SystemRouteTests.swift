import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// `GET /readyz` until it answers 200 (at most 20 s), as an orchestrator's readiness probe retries: the
/// first check of a new process may exceed its 2 s bound while the MongoDB driver still connects (the
/// whole suite runs beside it on two cores). Returns the last answer.
func readyOnceUp(_ api: HTTPClient) async throws -> Reply {
    var last = try await api.get("/readyz")
    try? await eventually(timeout: 20) {
        last = try await api.get("/readyz")
        return last.status == 200
    }
    return last
}

@Suite("API: health, metrics, OpenAPI")
struct SystemRouteTests {
    @Test func readinessNamesTheServerThatIsDown() async throws {
        try await withAPI { servers in
            let ready = try await readyOnceUp(servers[0].client)
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
        let redis = try await onThread { try TestRedis(extraArguments: ["--maxmemory-policy", "allkeys-lru"]) }
        defer { Thread { redis.stop() }.start() }
        // Allowed: ready, with the policy reported.
        try await withAPI(redis: redis, configureBroker: { $0.allowEviction = true }) { servers in
            let ready = try await readyOnceUp(servers[0].client)
            #expect(ready.status == 200, "\(ready.text)")
            let eviction = (ready.json["checks"] as? [String: String])?["redis_eviction"]
            #expect(eviction?.contains("allkeys-lru") == true && eviction?.contains("allowed") == true, "\(ready.text)")
        }
        // Not allowed: a Redis switched to an evicting policy is refused on reconnect, and not ready.
        let switching = try await onThread { try TestRedis() }
        defer { Thread { switching.stop() }.start() }
        let admin = RedisPool(configuration: switching.configuration, size: 1)
        defer { admin.close() }
        try await withAPI(redis: switching) { servers in
            let api = servers[0].client
            #expect(try await readyOnceUp(api).status == 200)
            try await admin.command("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
            try await admin.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            var last: Reply?
            // Both checks say it once a connection was refused: the first requests after the kill may
            // still meet a connection closed under them (the server's own loops reconnect too).
            try await eventually(timeout: 10, "readyz did not report the evicting policy: \(last?.text ?? "")") {
                last = try await api.get("/readyz")
                let checks = last?.json["checks"] as? [String: String]
                return last?.status == 503 && checks?["redis_eviction"]?.contains("volatile-ttl") == true
                    && checks?["redis"]?.contains("maxmemory-policy") == true
            }
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
            let process = try await api.get("/metrics")
            #expect(process.status == 200 && process[header: "content-type"]?.hasPrefix("text/plain") == true)
            for line in [
                #"conveyor_http_requests_total{method="POST",route="/v1/jobs/batch",status="201"} 1"#,
                #"conveyor_http_requests_total{method="GET",route="/v1/jobs/{id}",status="404"} 1"#,
                "# TYPE conveyor_http_request_duration_seconds histogram",
            ] {
                #expect(process.text.contains(line), "/metrics misses \(line)")
            }
            let cluster = try await api.get("/metrics/cluster")
            #expect(cluster.status == 200 && cluster[header: "content-type"]?.hasPrefix("text/plain") == true)
            for line in [
                #"conveyor_jobs_total{outcome="enqueued"} 4"#, #"conveyor_jobs_total{outcome="succeeded"} 2"#,
                #"conveyor_delayed_jobs{queue="later"} 1"#, #"conveyor_queue_depth{queue="mail",priority="normal"} 0"#,
                "conveyor_event_stream_length ", "conveyor_history_lag_events ",
                #"conveyor_jobs_enqueued_total{queue="mail",type="echo"} 1"#,
                #"conveyor_jobs_enqueued_total{queue="default",type="echo"} 1"#,
                #"conveyor_jobs_succeeded_total{queue="mail",type="echo"} 1"#,
                #"conveyor_jobs_failed_total{queue="default",type="fail"} 2"#,
                #"conveyor_jobs_dead_total{queue="default",type="fail"} 1"#, #"conveyor_dead_jobs{queue="default"} 1"#,
                #"conveyor_job_duration_seconds_bucket{queue="default",type="echo",le="+Inf"} 1"#,
                #"conveyor_job_duration_seconds_count{queue="default",type="fail"} 2"#,
                #"conveyor_job_wait_seconds_bucket{queue="mail",type="echo",le="+Inf"} 1"#, "# TYPE conveyor_job_wait_seconds histogram",
            ] {
                #expect(cluster.text.contains(line), "/metrics/cluster misses \(line)")
            }
            // The cluster's series are not in the per-process scrape, so summing /metrics over replicas
            // never counts them twice; the HTTP series are not in the cluster scrape.
            #expect(!process.text.contains("conveyor_jobs_total") && !cluster.text.contains("conveyor_http_"))
            // No two families share a name OpenMetrics reads as one: `X_total` (a counter) beside a
            // family `X` of another type, or the histogram suffixes.
            var families: [String: String] = [:]
            for line in (process.text + cluster.text).split(separator: "\n") where line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(families[String(parts[2])] == nil, "\(parts[2]) declared twice")
                families[String(parts[2])] = String(parts[3])
            }
            for (name, type) in families {
                var base = name
                for suffix in ["_total", "_bucket", "_count", "_sum", "_created", "_info"] where name.hasSuffix(suffix) {
                    base = String(name.dropLast(suffix.count))
                }
                if base != name { #expect(families[base] == nil, "\(name) (\(type)) and \(base) (\(families[base] ?? "")) clash") }
            }
        }
    }

    @Test func theSpecIsServedAsWrittenAndAsJSON() async throws {
        try await withAPI { servers in
            let client = servers[0].client.with(key: nil)
            let yaml = try await client.get("/openapi.yaml")
            let file = try String(contentsOf: repositoryRoot.appendingPathComponent("API/openapi.yaml"), encoding: .utf8)
            #expect(yaml.status == 200 && yaml.text == file && yaml[header: "content-type"] == "application/yaml")
            let json = try await client.get("/openapi.json")
            #expect(json.status == 200 && json.json["openapi"] as? String == "3.1.0")
            #expect((json.json["paths"] as? [String: Any])?.count == Set(ConveyorAPI.routes.map(\.path)).count)
        }
    }

    @Test func wrongMethodsAnswer405WithAllow() async throws {
        try await withAPI { servers in
            let client = servers[0].client
            let wrong = try await client.send("PUT", "/v1/jobs")
            expectProblem(wrong, 405)
            #expect(wrong[header: "Allow"] == "POST, GET")
            #expect(try await client.send("PUT", "/v1/jobs/abc/cancel")[header: "Allow"] == "POST")
            #expect(try await client.send("DELETE", "/v1/schedules/nightly/run")[header: "Allow"] == "POST")
            expectProblem(try await client.send("PATCH", "/v1/nowhere"), 404)
        }
    }
}
