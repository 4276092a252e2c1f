import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// The scripts run as one function library (FUNCTION LOAD, Redis 7.0+) or, on older servers and with
/// `CONVEYOR_LUA_FUNCTIONS=0`, with EVALSHA: both paths take every script through a job's whole life.
@Suite("Scripts: the function library and the EVALSHA fallback")
struct ScriptModeTests {
    @Test("every script works as a function and as an EVALSHA script", arguments: [true, false])
    func everyScriptRuns(functions: Bool) async throws {
        try await withBroker(configure: { $0.functions = functions }) { broker in
            #expect((broker.scripts.library != nil) == functions)
            if functions { #expect(broker.scripts.library?.state == .loaded) }
            let retry = RetryPolicy.fixed(milliseconds: 20)
            let echo = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"n":1}"#, uniqueKey: "once"))
            #expect(try await broker.enqueue(EnqueueRequest(type: "echo", uniqueKey: "once")).duplicate)
            let dying = try await broker.enqueue(
                EnqueueRequest(type: "fail", payload: #"{"times":9}"#, maxAttempts: 2, retryPolicy: retry))
            let delayed = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 50))
            let cancelled = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 60_000))
            #expect(try await broker.cancel(cancelled.id).outcome == .cancelled)
            let moved = try await broker.enqueue(EnqueueRequest(type: "echo", delayMilliseconds: 60_000))
            let outcome = try await broker.update(id: moved.id, JobUpdate(priority: .high, delayMilliseconds: 0))
            #expect(outcome == .updated(state: .queued, previous: .scheduled, changed: ["priority", "run_at"]))
            #expect(try await broker.pause(queue: "default"))
            #expect(try await broker.resume(queue: "default"))
            #expect(try await broker.upsertSchedule(Schedule(name: "tick", expression: "* * * * * *", job: EnqueueRequest(type: "noop"))))
            let manual = try #require(try await broker.runSchedule("tick"))
            try await withWorker(broker) { _ in
                for id in [echo.id, delayed.id, moved.id, manual] { _ = try await waitForState(broker, id, .succeeded) }
                _ = try await waitForState(broker, dying.id, .dead)
                #expect(try await broker.retry(ids: [dying.id]) == [dying.id: "retried"])
                _ = try await waitForState(broker, dying.id, .dead)
            }
            #expect(try await eventNames(broker, job: echo.id) == ["enqueued", "started", "succeeded"])
            #expect(try await eventNames(broker, job: moved.id) == ["enqueued", "updated", "started", "succeeded"])
            #expect(try await broker.deleteDead(ids: [dying.id]) == 1)
            #expect(try await broker.trimEvents() == 0)
            #expect((try await broker.queueCounts()["default"] ?? QueueCounts()) == QueueCounts())
            #expect(try await broker.stats().totals["succeeded"] ?? 0 >= 4)
        }
    }

    @Test("a library deleted from Redis (FUNCTION DELETE, a flush) is loaded again by the next call")
    func libraryReload() async throws {
        // A server of its own: tests on the shared one would find the library gone mid-call.
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        try await withBroker(redis: redis) { broker in
            let library = try #require(broker.scripts.library)
            try #require(library.state == .loaded, "this Redis has no functions")
            _ = try await broker.enqueue(EnqueueRequest(type: "noop"))
            try await broker.pool.command("FUNCTION", "DELETE", library.name)
            _ = try await broker.enqueue(EnqueueRequest(type: "noop"))
            let loaded = try await broker.pool.command("FUNCTION", "LIST", "LIBRARYNAME", library.name)
            #expect(loaded.array?.count == 1)
            #expect(try await broker.stats().totals["enqueued"] == 2)
        }
    }

    @Test("a waiting worker whose claim finds the library gone (sent behind its BRPOP) loads it again and keeps working")
    func libraryGoneUnderAWaitingWorker() async throws {
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        try await withBroker(redis: redis) { broker in
            let library = try #require(broker.scripts.library)
            try #require(library.state == .loaded, "this Redis has no functions")
            // No promoter (its BRPOP would pass for the worker's below), and no heartbeat after the
            // first (a heartbeat would load the library again before the claim needs it).
            let logs = CapturedLogs()
            let worker = Worker(
                broker: broker, registry: testRegistry(), options: WorkerOptions(heartbeatMilliseconds: 600_000), logger: logs.logger)
            try await withServices([worker]) {
                let first = try await broker.enqueue(EnqueueRequest(type: "noop")).id
                _ = try await waitForState(broker, first, .succeeded)
                try await eventually(timeout: 5, "the worker is not waiting in BRPOP") {
                    (try await broker.pool.command("CLIENT", "LIST").string ?? "").contains("cmd=brpop")
                }
                // The claim queued behind the BRPOP runs once a token arrives, without the library: it
                // loads it and runs again, so the worker never sees an error.
                try await broker.pool.command("FUNCTION", "DELETE", library.name)
                try await broker.pool.command("LPUSH", broker.keys.wake("default"), "1")
                try await eventually(timeout: 5, "the library was not loaded again") {
                    (try await broker.pool.command("FUNCTION", "LIST", "LIBRARYNAME", library.name)).array?.count == 1
                }
                #expect(logs.messages(.warning).filter { $0.contains("cannot fetch jobs") }.isEmpty, "\(logs.messages(.warning))")
                let second = try await broker.enqueue(EnqueueRequest(type: "noop")).id
                _ = try await waitForState(broker, second, .succeeded)
            }
        }
    }

    @Test("a user whose ACL forbids FUNCTION runs the scripts with EVALSHA instead")
    func functionsForbiddenByACL() async throws {
        let user = "noscriptfn-" + uniqueNamespace("u")
        let admin = RedisPool(configuration: TestRedis.shared.configuration, size: 1)
        defer { admin.close() }
        try await admin.command("ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-function")
        var configuration = TestRedis.shared.configuration
        configuration.username = user
        configuration.password = "pw"
        let broker = Broker(redis: configuration, configuration: BrokerConfiguration(namespace: uniqueNamespace()), poolSize: 2)
        do {
            try await broker.prepare()
            #expect(broker.scripts.library?.state == .unsupported)
            let job = try await broker.enqueue(EnqueueRequest(type: "echo"))
            try await withWorker(broker) { _ in _ = try await waitForState(broker, job.id, .succeeded) }
        } catch {
            Issue.record(error)
        }
        broker.shutdown()
        try await admin.command("ACL", "DELUSER", user)
    }

    @Test("a script called with another number of keys than its name declares throws before Redis sees it")
    func keyCountChecked() async throws {
        try await withBroker { broker in
            await #expect(throws: RedisError.self) {
                try await broker.scripts.trimEvents.run(
                    on: broker.pool, keys: [broker.keys.events, broker.keys.stats], arguments: [1, 2, "g"])
            }
        }
    }
}
