import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The status of GET `url` (0 when nothing answers).
private func status(_ url: String) async -> Int {
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = 5
    guard let (_, response) = try? await URLSession.shared.data(for: request) else { return 0 }
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}

@Suite("--health-port and conveyor health: processes")
struct HealthPortTests {
    @Test("a worker's /readyz is 503 while its Redis is unreachable and 200 again when it is back; conveyor health follows it")
    func workerReadiness() async throws {
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        let cluster = try Cluster(redis: redis)
        defer { cluster.close() }
        let port = try freePort()
        let worker = try cluster.worker(extra: ["--health-port", String(port), "--health-host", "127.0.0.1"])
        let base = "http://127.0.0.1:\(port)"
        try await eventually(timeout: 30, "the health server did not answer: \(worker.errorOutput.suffix(2_000))") {
            await status(base + "/readyz") == 200
        }
        #expect(await status(base + "/healthz") == 200)
        let healthy = try await cluster.run(["health", "--port", String(port)])
        #expect(healthy.status == 0, "\(healthy)")

        try await onThread { redis.stop() }
        try await eventually(timeout: 10, "/readyz stayed 200 without Redis") { await status(base + "/readyz") == 503 }
        #expect(await status(base + "/healthz") == 200)
        let unhealthy = try await cluster.run(["health"], environment: ["CONVEYOR_HEALTH_PORT": String(port)])
        #expect(unhealthy.status == 1 && unhealthy.output.contains("redis"), "\(unhealthy)")

        try await onThread { try redis.start() }
        try await eventually(timeout: 15, "/readyz did not recover with Redis") { await status(base + "/readyz") == 200 }
        #expect(worker.isRunning)
    }

    @Test("history's /readyz names MongoDB while it is unreachable; /healthz stays 200")
    func historyReadiness() async throws {
        let cluster = try Cluster(environment: ["CONVEYOR_MONGO_URL": "mongodb://127.0.0.1:\(try freePort())/nothing"])
        defer { cluster.close() }
        let port = try freePort()
        let history = try cluster.start(["history", "--health-port", String(port), "--health-host", "127.0.0.1"])
        let base = "http://127.0.0.1:\(port)"
        try await eventually(timeout: 30, "the health server did not answer: \(history.errorOutput.suffix(2_000))") {
            await status(base + "/healthz") == 200
        }
        #expect(await status(base + "/readyz") == 503)
        let result = try await cluster.run(["health", "--port", String(port)])
        #expect(result.status == 1 && result.output.contains("mongodb") && result.output.contains("\"redis\":\"ok\""), "\(result)")
    }
}
