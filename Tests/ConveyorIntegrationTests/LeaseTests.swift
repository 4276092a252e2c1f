import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Leases: stalled jobs are requeued, stale workers are fenced off, poison jobs quarantined")
struct LeaseTests {
    /// A registration for a worker that exists only in this test (WorkerInfo has no public initialiser; it is Codable).
    private func workerInfo(_ id: String) throws -> WorkerInfo {
        let json =
            #"{"id":"\#(id)","host":"test","pid":1,"queues":["default"],"concurrency":1,"running":[],"#
            + #""started_at":0,"heartbeat_at":0}"#
        return try JSONDecoder().decode(WorkerInfo.self, from: Data(json.utf8))
    }

    @Test("an expired lease is requeued; the stale worker's ack is refused, the new worker's counts once")
    func fencing() async throws {
        try await withBroker { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            let first = try #require(try await claim(broker, worker: "w1", leaseMilliseconds: 1_500).first)
            #expect(first.attempt == 1)
            #expect(try await broker.requeueStalled().requeued == 0)
            // The point of this test: let the lease run out.
            try await Task.sleep(for: .milliseconds(1_700))
            let stalled = try await broker.requeueStalled()
            #expect(stalled.requeued == 1 && stalled.quarantined == 0)
            let requeued = try #require(try await broker.job(id))
            #expect(requeued.state == .queued)
            #expect(requeued.crashes == 1)
            #expect(requeued.attempts == 0)
            #expect(try await eventNames(broker, job: id).last == "stalled")

            let second = try #require(try await claim(broker, worker: "w2", leaseMilliseconds: 5_000).first)
            #expect(second.id == id && second.attempt == 1 && second.crashes == 1)
            #expect(second.token != first.token)

            #expect(try await acknowledge(broker, [(first, .success(result: #""w1""#))]) == [id: "stale"])
            #expect(try await acknowledge(broker, [(first, .failure(error: "w1 failed"))]) == [id: "stale"])
            // complete fences with GETDEL: the lock it took from w2 is back, with w2's token and lease.
            #expect(try await broker.pool.command("GET", broker.keys.lock(id)).string == second.token)
            let left = try await broker.pool.command("PTTL", broker.keys.lock(id)).int ?? -2
            #expect(left > 3_000 && left <= 5_000, "\(left)")
            let stillRunning = try #require(try await broker.job(id))
            #expect(stillRunning.state == .running)
            #expect(stillRunning.result == nil && stillRunning.lastError == nil)
            #expect(try await broker.stats().totals["succeeded"] == nil)
            #expect(try await broker.stats().totals["failed"] == nil)

            let w1 = try workerInfo("w1")
            let lost = try await broker.pool.withConnection { connection in
                try broker.heartbeat(
                    on: connection, worker: w1, leaseMilliseconds: 5_000, held: [(id: id, token: first.token)])
            }
            #expect(lost.lost == [id] && lost.cancelled.isEmpty)

            #expect(try await acknowledge(broker, [(second, .success(result: #""w2""#))]) == [id: "ok"])
            #expect(try await acknowledge(broker, [(second, .success(result: #""w2""#))]) == [id: "ok"])
            let done = try #require(try await broker.job(id))
            #expect(done.state == .succeeded && done.result == #""w2""#)
            let stats = try await broker.stats()
            #expect(stats.totals["succeeded"] == 1)
            #expect(stats.totals["stalled"] == 1)
            #expect(stats.running == 0)
            #expect(try await acknowledge(broker, [(first, .success(result: #""w1""#))]) == [id: "stale"])
            #expect(try await events(broker).filter { $0["event"] == "succeeded" }.count == 1)
        }
    }

    @Test("a job cancelled while running: its heartbeat says cancelled, its ack records nothing, the lock goes")
    func cancelledWhileRunning() async throws {
        try await withBroker { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            let job = try #require(try await claim(broker, worker: "w1", leaseMilliseconds: 5_000).first)
            let cancel = try await broker.cancel(id)
            #expect(cancel.outcome == .cancelled && cancel.previous == .running)
            let w1 = try workerInfo("w1")
            let beat = try await broker.pool.withConnection { connection in
                try broker.heartbeat(on: connection, worker: w1, leaseMilliseconds: 5_000, held: [(id: id, token: job.token)])
            }
            #expect(beat.lost.isEmpty && beat.cancelled == [id])
            #expect(try await acknowledge(broker, [(job, .success(result: #""late""#))]) == [id: "cancelled"])
            #expect(try await acknowledge(broker, [(job, .success(result: #""late""#))]) == [id: "cancelled"])
            let cancelled = try #require(try await broker.job(id))
            #expect(cancelled.state == .cancelled && cancelled.result == nil)
            #expect(try await broker.pool.command("EXISTS", broker.keys.lock(id)).int == 0)
            #expect(try await broker.stats().totals["succeeded"] == nil)
            #expect(try await broker.stats().running == 0)
        }
    }

    @Test("a held lease is extended by heartbeats and not requeued")
    func heartbeatExtends() async throws {
        try await withBroker { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            // Heartbeats every 100 ms for 2.5 leases: the lease outlives its first end only if they
            // extend it. 2 s, not 1: under the whole suite's load this test's 100 ms sleeps took over
            // a second now and then, and the lease ran out between two heartbeats.
            let job = try #require(try await claim(broker, worker: "w1", leaseMilliseconds: 2_000).first)
            let w1 = try workerInfo("w1")
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                let result = try await broker.pool.withConnection { connection in
                    try broker.heartbeat(
                        on: connection, worker: w1, leaseMilliseconds: 2_000, held: [(id: id, token: job.token)])
                }
                #expect(result.lost.isEmpty)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await broker.requeueStalled().requeued == 0)
            #expect(try await broker.job(id)?.state == .running)
        }
    }

    @Test("a job whose lease expires maxCrashes times is quarantined to dead")
    func quarantine() async throws {
        try await withBroker(configure: { $0.maxCrashes = 3 }) { broker in
            let id = try await broker.enqueue(EnqueueRequest(type: "echo")).id
            for round in 1...3 {
                let claimed = try #require(try await claim(broker, worker: "w\(round)", leaseMilliseconds: 300).first)
                #expect(claimed.crashes == round - 1)
                // The point of this test: let the lease run out.
                try await Task.sleep(for: .milliseconds(350))
                let stalled = try await broker.requeueStalled()
                #expect(stalled.requeued == (round < 3 ? 1 : 0))
                #expect(stalled.quarantined == (round < 3 ? 0 : 1))
            }
            let job = try #require(try await broker.job(id))
            #expect(job.state == .dead)
            #expect(job.crashes == 3)
            #expect(job.lastError?.contains("quarantined") == true, "\(job.lastError ?? "")")
            #expect(job.lastError?.contains("w3") == true)
            #expect(try await broker.deadJobs().map(\.id) == [id])
            let dead = try #require(try await events(broker, job: id).last)
            #expect(dead["event"] == "dead")
            #expect(dead["crashes"] == "3")
            #expect(dead["error"]?.contains("quarantined") == true)
            let stats = try await broker.stats()
            #expect(stats.totals["dead"] == 1 && stats.totals["stalled"] == 2)
            #expect(stats.running == 0)
            #expect(try await claim(broker, worker: "w4").isEmpty)
        }
    }
}
