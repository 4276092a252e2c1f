import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// A Redis that may evict keys loses jobs silently: every process refuses it unless told to run
/// anyway, and says why.
@Suite("Redis maxmemory-policy: only noeviction is accepted", .serialized)
struct EvictionPolicyTests {
    static let policies = [
        "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    ]

    @Test(
        "each policy: enqueue and worker refuse all but noeviction, --allow-eviction and the env variable run anyway", arguments: policies)
    func policy(_ policy: String) async throws {
        let redis = try await onThread { try TestRedis(extraArguments: ["--maxmemory-policy", policy]) }
        defer { Thread { redis.stop() }.start() }
        let cluster = try Cluster(redis: redis)
        defer { cluster.close() }
        // A plain connection, no policy check, to look at what the commands left in Redis.
        let raw = RedisPool(configuration: redis.configuration, size: 1)
        defer { raw.close() }
        func enqueued() async throws -> Int {
            try await raw.command("HGET", "{\(cluster.namespace)}:stats", "enqueued").string.flatMap { Int($0) } ?? 0
        }

        let plain = try await cluster.run(["enqueue", "noop"])
        let worker = try cluster.worker()
        if policy == "noeviction" {
            #expect(plain.status == 0 && plain.error.isEmpty, "\(plain)")
            let id = try #require(plain.lines.first)
            _ = try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
            #expect(worker.isRunning && !worker.errorOutput.contains("maxmemory-policy"))
            return
        }
        #expect(plain.status == 1, "\(plain)")
        #expect(plain.errorLines.last?.contains("maxmemory-policy is '\(policy)'") == true, "\(plain)")
        #expect(plain.error.contains("--allow-eviction") && plain.error.contains("CONVEYOR_ALLOW_EVICTION"), "\(plain)")
        #expect(try await enqueued() == 0, "nothing is enqueued into an evicting Redis")
        #expect(await worker.waitForExit(timeout: 15) == 1, "the worker refuses to start: \(worker.errorOutput)")
        #expect(worker.errorOutput.contains("maxmemory-policy is '\(policy)'"), "\(worker.errorOutput)")

        for (arguments, environment) in [(["--allow-eviction"], [:]), ([], ["CONVEYOR_ALLOW_EVICTION": "1"])] {
            let allowed = try await cluster.run(["enqueue", "noop"] + arguments, environment: environment)
            #expect(allowed.status == 0, "\(allowed)")
            #expect(allowed.error.contains("maxmemory-policy is '\(policy)'"), "still logged as an error: \(allowed)")
            #expect(allowed.error.contains("error"), "\(allowed)")
        }
        #expect(try await enqueued() == 2)
    }

    @Test("a worker allowed to run logs the policy again when it reconnects to a Redis switched to eviction")
    func reconnect() async throws {
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        let cluster = try Cluster(redis: redis)
        defer { cluster.close() }
        let raw = RedisPool(configuration: redis.configuration, size: 1)
        defer { raw.close() }
        let worker = try cluster.worker(extra: ["--allow-eviction"])
        let first = try await cluster.enqueueOne("noop")
        _ = try await cluster.waitForJob(first, "succeeded") { $0.state == .succeeded }
        #expect(!worker.errorOutput.contains("maxmemory-policy"))

        try await raw.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        try await raw.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        try await cluster.waitUntil("the worker did not log the policy on reconnect: \(worker.errorOutput)") {
            worker.errorOutput.contains("maxmemory-policy is 'allkeys-lru'")
        }
        #expect(worker.isRunning)
    }
}
