import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Reaching Redis: restarts, Unix sockets, passwords and databases")
struct RedisConnectionTests {
    @Test("workers and a promoter ride out a Redis restart; every job succeeds once")
    func redisRestart() async throws {
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        let cluster = try Cluster(redis: redis)
        defer { cluster.close() }
        let processes = [
            try cluster.worker(lease: "5s", concurrency: 4), try cluster.worker(lease: "5s", concurrency: 4), try cluster.promoter(),
        ]
        var ids = try await cluster.enqueue("sleep", ["--payload", #"{"ms":30}"#, "--count", "300"])
        ids += try await cluster.enqueue("echo", ["--payload", #"{"delayed":true}"#, "--delay", "1500ms", "--count", "20"])
        try await cluster.waitUntil("some jobs done before the restart") { try await cluster.total("succeeded") >= 20 }

        #expect(try await cluster.total("succeeded") < ids.count, "the restart happens mid-run")
        try await onThread { try redis.restart() }

        ids += try await cluster.enqueue("sleep", ["--payload", #"{"ms":5}"#, "--count", "100"])
        ids += try await cluster.enqueue("echo", ["--payload", "3", "--delay", "300ms", "--count", "10"])
        try await cluster.waitUntil(timeout: 45, "all \(ids.count) jobs succeeded") {
            try await cluster.total("succeeded") >= ids.count
        }
        let jobs = try await cluster.jobs(ids)
        #expect(jobs.count == ids.count)
        #expect(jobs.values.filter { $0.state != .succeeded }.isEmpty)
        #expect(try await cluster.total("succeeded") == ids.count)
        let succeeded = eventCounts(try await cluster.allEvents(), "succeeded")
        #expect(succeeded.count == ids.count)
        #expect(succeeded.values.allSatisfy { $0 == 1 })
        for process in processes { #expect(process.isRunning, "a process died with Redis: \(process.errorOutput.suffix(2_000))") }
    }

    @Test("a worker over a Unix socket: --redis-url unix:///path")
    func unixSocket() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let socket = "unix://" + cluster.redis.socketPath
        _ = try cluster.worker(concurrency: 2, extra: ["--redis-url", socket])
        let result = try await cluster.run(["enqueue", "echo", "--payload", #"{"via":"socket"}"#, "--count", "3", "--redis-url", socket])
        #expect(result.status == 0, "\(result)")
        try #require(result.lines.count == 3)
        for id in result.lines {
            let job = try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
            #expect(job.result == #"{"via":"socket"}"#)
        }
        let read = try await cluster.run(["job", result.lines[0], "--redis-url", socket])
        #expect(read.status == 0, "\(read)")
        #expect((try read.object())["state"] as? String == "succeeded")
    }

    @Test("a password-protected server and database 2 through redis://:pw@host:port/2")
    func passwordAndDatabase() async throws {
        let redis = try await onThread { try TestRedis(password: "pw") }
        defer { Thread { redis.stop() }.start() }
        let url = "redis://:pw@127.0.0.1:\(redis.port)/2"
        let cluster = try Cluster(redis: redis, url: url)
        defer { cluster.close() }
        _ = try cluster.worker(concurrency: 2)
        let id = try await cluster.enqueueOne("math", ["--payload", #"{"op":"mul","a":6,"b":7}"#])
        let job = try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
        #expect(job.result == "42")

        // The keys live in database 2, not 0.
        let databaseZero = Broker(
            redis: try RedisConfiguration(url: "redis://:pw@127.0.0.1:\(redis.port)"),
            configuration: BrokerConfiguration(namespace: cluster.namespace), poolSize: 1)
        defer { databaseZero.shutdown() }
        #expect(try await databaseZero.job(id) == nil)
        #expect(try await databaseZero.stats().totals.isEmpty)

        for arguments in [["stats"], ["enqueue", "noop"], ["job", id], ["worker"], ["promoter"]] {
            let wrong = try await cluster.run(arguments + ["--redis-url", "redis://:wrong@127.0.0.1:\(redis.port)/2"])
            #expect(wrong.status == 1, "\(arguments): \(wrong)")
            #expect(wrong.errorLines.count == 1, "\(arguments): \(wrong.error)")
            #expect(wrong.error.uppercased().contains("WRONGPASS") || wrong.error.contains("invalid"), "\(wrong.error)")
            #expect(!wrong.error.contains("wrong@"), "the password is not echoed")
            let none = try await cluster.run(arguments + ["--redis-url", "redis://127.0.0.1:\(redis.port)/2"])
            #expect(none.status == 1, "\(arguments): \(none)")
            #expect(none.errorLines.count == 1, "\(arguments): \(none.error)")
        }
        #expect(try await cluster.total("enqueued") == 1)
    }
}
