import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What the submitters saw: acknowledged job ids with when their request started and was answered,
/// and when requests failed.
private final class SubmissionLog: Sendable {
    struct Ack {
        var id: String
        var sent: Date
        var answered: Date
    }
    private let acks = Mutex<[Ack]>([])
    private let failures = Mutex<[Date]>([])
    private let stopped = Mutex(false)

    /// Tells the submitters to stop.
    func stop() { stopped.withLock { $0 = true } }
    var isStopped: Bool { stopped.withLock { $0 } }

    func acknowledged(_ ack: Ack) { acks.withLock { $0.append(ack) } }
    func failed() { failures.withLock { $0.append(Date()) } }
    var acknowledged: [Ack] { acks.withLock { $0 } }
    var failureCount: Int { failures.withLock { $0.count } }
}

/// POST /v1/jobs with a 3 s timeout; the new job's id on 201, nil on any other answer.
private func submit(_ base: String, queue: String) async throws -> String? {
    var request = URLRequest(url: URL(string: base + "/v1/jobs")!)
    request.httpMethod = "POST"
    request.timeoutInterval = 3
    request.httpBody = Data(#"{"type":"sleep","payload":{"ms":20},"queue":"\#(queue)"}"#.utf8)
    let (data, response) = try await URLSession.shared.data(for: request)
    guard (response as? HTTPURLResponse)?.statusCode == 201,
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return object["id"] as? String
}

/// Serialized: each test runs its own master, replicas and three sentinels (and some, conveyor
/// processes under load); one at a time keeps the suite's load on a small machine down.
@Suite("Redis Sentinel: failover of processes and of the client", .serialized)
struct FailoverTests {
    /// With one replica (the issue's topology) the new master has no replica of its own after the
    /// failover, so with WAIT 1 no enqueue can be acknowledged until one returns: the killed master is
    /// restarted (as its supervisor would) and the sentinels make it the new master's replica; the
    /// outage counts from then. With two, the other replica follows the new master within the failover.
    @Test(
        "SIGKILL of the Redis master: the sentinels promote a replica, worker, promoter and serve carry on unrestarted, and with CONVEYOR_REDIS_WAIT=1 every acknowledged job succeeds exactly once",
        .timeLimit(.minutes(2)), arguments: [1, 2])
    func masterKilled(replicas: Int) async throws {
        let group = try await SentinelGroup(replicas: replicas)
        defer { group.close() }
        let namespace = uniqueNamespace("failover")
        let queue = "failover"
        let apiPort = try freePort()
        let environment = group.environment.merging([
            "CONVEYOR_REDIS_WAIT": "1",
            // serve needs a MongoDB URL; enqueueing never reads it.
            "CONVEYOR_MONGO_URL": "mongodb://127.0.0.1:\(try freePort())/unused?serverSelectionTimeoutMS=500",
        ]) { $1 }
        // The URL's host is not used with sentinels: they name the master.
        let url = "redis://127.0.0.1:1"
        func start(_ arguments: [String]) throws -> ConveyorProcess {
            try ConveyorProcess(arguments, redisURL: url, namespace: namespace, environment: environment)
        }
        let worker = try start(["worker", "--queues", queue, "--concurrency", "20", "--lease", "3s", "--grace", "2s"])
        let promoter = try start(["promoter"])
        let serve = try start(["serve", "--no-auth", "--port", String(apiPort), "--grpc-port", "0"])
        let processes = [worker, promoter, serve]
        defer { for process in processes where process.isRunning { process.signal(SIGKILL) } }
        try await eventually(timeout: 30, "serve did not start: \(serve.errorOutput.suffix(2_000))") {
            serve.output.contains("listening on")
        }
        let broker = Broker(redis: group.configuration, configuration: BrokerConfiguration(namespace: namespace), poolSize: 2)
        defer { broker.shutdown() }

        let log = SubmissionLog()
        let base = "http://127.0.0.1:\(apiPort)"
        let submitters = Task {
            await withTaskGroup(of: Void.self) { tasks in
                for _ in 0..<2 {
                    tasks.addTask {
                        while !log.isStopped {
                            let sent = Date()
                            if let id = try? await submit(base, queue: queue) {
                                log.acknowledged(.init(id: id, sent: sent, answered: Date()))
                            } else {
                                log.failed()
                                try? await Task.sleep(for: .milliseconds(50))
                            }
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
        }
        defer { log.stop() }

        // Normal operation first: jobs go in and get done.
        try await eventually(timeout: 15, "no job succeeded before the failover") {
            guard let first = log.acknowledged.first else { return false }
            return (try? await broker.job(first.id))?.state == .succeeded
        }
        let killedAt = Date()
        group.master.signal(SIGKILL)
        try await eventually(timeout: 40, "the sentinels did not promote the replica") {
            (try? await group.reportedMasterPort()).map { group.replicaPorts.contains($0) } ?? false
        }
        let switchedAt = Date()
        var replicaBackAt = switchedAt
        if replicas == 1 {
            try group.restartOldMaster()
            try await eventually(timeout: 40, "the sentinels did not make the restarted old master a replica") {
                await group.oldMasterIsReplica()
            }
            replicaBackAt = Date()
        }
        try await eventually(timeout: 30, "submission did not resume: \(serve.errorOutput.suffix(2_000))") {
            log.acknowledged.contains { $0.sent > killedAt }
        }
        // Jobs submitted after the failover must run too.
        let firstAfter = log.acknowledged.first { $0.sent > killedAt }!
        try await eventually(timeout: 30, "processing did not resume: \(worker.errorOutput.suffix(2_000))") {
            (try? await broker.job(firstAfter.id))?.state == .succeeded
        }
        try await Task.sleep(for: .seconds(1))
        log.stop()
        await submitters.value

        let acks = log.acknowledged
        var jobs: [String: Job] = [:]
        try await eventually(timeout: 40, "acknowledged jobs did not all succeed") {
            for ack in acks where jobs[ack.id]?.state != .succeeded {
                if let job = try? await broker.job(ack.id) { jobs[ack.id] = job }
            }
            return acks.allSatisfy { jobs[$0.id]?.state == .succeeded }
        }
        let succeeded = try await events(broker).filter { $0["event"] == "succeeded" }
        var counts: [String: Int] = [:]
        for event in succeeded { if let id = event["job"] { counts[id, default: 0] += 1 } }
        let notOnce = acks.filter { counts[$0.id] != 1 }
        #expect(
            notOnce.isEmpty, "acknowledged jobs not succeeded exactly once: \(notOnce.prefix(10).map { "\($0.id): \(counts[$0.id] ?? 0)" })"
        )
        let allRunning = processes.allSatisfy { $0.isRunning }
        #expect(allRunning, "a process exited: \(processes.map { "\($0.pid): \($0.isRunning)" })")

        let submissionBack = acks.filter { $0.sent > killedAt }.map(\.answered).min()!
        // Processing is back at the first job started on the new master after the kill (stream ids are
        // Redis's clock in ms, the same machine's clock).
        let killedMilliseconds = Int(killedAt.timeIntervalSince1970 * 1000)
        let startedAfter = try await events(broker).filter { $0["event"] == "started" }.compactMap { event -> Int? in
            guard let ms = event["_id"].flatMap({ $0.split(separator: "-").first }).flatMap({ Int($0) }), ms > killedMilliseconds else {
                return nil
            }
            return ms
        }
        let processingBack = startedAfter.min().map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? submissionBack
        let resumed = max(submissionBack, processingBack)
        // The failover is complete once a master with a replica (WAIT 1) is named.
        let afterFailover = resumed.timeIntervalSince(max(switchedAt, replicaBackAt))
        let replicaNote =
            replicas == 1
            ? String(format: ", the restarted old master its replica %.2f s after SIGKILL", replicaBackAt.timeIntervalSince(killedAt)) : ""
        print(
            String(
                format:
                    "failover (%d replicas): sentinels promoted a replica %.2f s after SIGKILL%@; submission resumed after %.2f s, processing after %.2f s: outage %.2f s, %.2f s after the failover (%d jobs acknowledged, %d submissions refused)",
                replicas, switchedAt.timeIntervalSince(killedAt), replicaNote, submissionBack.timeIntervalSince(killedAt),
                processingBack.timeIntervalSince(killedAt), resumed.timeIntervalSince(killedAt), afterFailover, acks.count,
                log.failureCount))
        #expect(afterFailover < 10, "outage after the failover: \(afterFailover) s")
    }
}
