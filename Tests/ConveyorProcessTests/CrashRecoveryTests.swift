import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("Frozen and killed workers: fencing, stalled recovery, poison-job quarantine")
struct CrashRecoveryTests {
    @Test("a frozen worker's late completion is refused; the worker keeps running")
    func frozenWorkerIsFenced() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let frozen = try cluster.worker(lease: "1s", concurrency: 1)
        let id = try await cluster.enqueueOne("sleep", ["--payload", #"{"ms":4000}"#])
        try await cluster.waitForJob(id, "running on the first worker") { $0.state == .running && isHeld($0, by: frozen) }
        frozen.signal(SIGSTOP)

        _ = try cluster.promoter()
        let requeued = try await cluster.waitForJob(id, "requeued after the frozen worker's lease") { $0.crashes == 1 }
        #expect(requeued.state == .queued)
        #expect(requeued.attempts == 0)

        let rescuer = try cluster.worker(lease: "30s", concurrency: 1)
        let done = try await cluster.waitForJob(id, "succeeded on the second worker") { $0.state == .succeeded }
        #expect(isHeld(done, by: rescuer))
        #expect(done.attempts == 1)
        rescuer.signal(SIGTERM)
        #expect(await rescuer.waitForExit(timeout: 10) == 0)

        // Thawed, the first worker's sleep is over: its ack (or its next heartbeat) finds the lock
        // under another token and nothing is recorded.
        frozen.signal(SIGCONT)
        try await cluster.waitUntil("the thawed worker reports its lost lease: \(frozen.errorOutput)") {
            frozen.errorOutput.contains("attempt not recorded") || frozen.errorOutput.contains("lease lost")
        }
        let events = try await cluster.allEvents()
        #expect(eventCounts(events, "succeeded")[id] == 1)
        #expect(eventCounts(events, "stalled")[id] == 1)
        #expect(try await cluster.total("succeeded") == 1)
        let after = try #require(try await cluster.broker.job(id))
        #expect(after.state == .succeeded)
        #expect(isHeld(after, by: rescuer))

        // It still works: with the other worker gone, it takes and completes a new job.
        #expect(frozen.isRunning)
        let next = try await cluster.enqueueOne("echo", ["--payload", #"{"after":"thaw"}"#])
        let nextDone = try await cluster.waitForJob(next, "succeeded on the thawed worker") { $0.state == .succeeded }
        #expect(isHeld(nextDone, by: frozen))
        #expect(try await cluster.total("succeeded") == 2)
        #expect(frozen.isRunning)
    }

    @Test("kill -9 mid-job: the promoter requeues it after the lease, another worker completes it")
    func stalledRecovery() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        _ = try cluster.promoter()
        // 3 s, not 1: with 1 s a victim whose heartbeats were held up under the whole suite's load
        // lost its lease before the kill, took the requeued job again, and the test then saw it
        // running (CI, 2026-12-01).
        let victim = try cluster.worker(lease: "3s", concurrency: 1)
        let id = try await cluster.enqueueOne("sleep", ["--payload", #"{"ms":4000}"#, "--max-attempts", "1"])
        try await cluster.waitForJob(id, "running on the victim") { $0.state == .running && isHeld($0, by: victim) }
        victim.signal(SIGKILL)
        #expect(await victim.waitForExit(timeout: 5) != nil)

        let requeued = try await cluster.waitForJob(id, "requeued as stalled") { $0.crashes == 1 }
        #expect(requeued.state == .queued, "no worker is left to take it")
        #expect(requeued.attempts == 0, "a crash is not a failed attempt")
        #expect(try await cluster.total("stalled") == 1)
        #expect(try await cluster.total("failed") == 0)

        // max-attempts 1: had the crash counted as an attempt, the job would now be dead.
        let rescuer = try cluster.worker(concurrency: 1)
        let done = try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
        #expect(isHeld(done, by: rescuer))
        #expect(done.attempts == 1)
        #expect(done.crashes == 1)
        let events = try await cluster.allEvents()
        #expect(eventCounts(events, "started")[id] == 2)
        #expect(eventCounts(events, "succeeded")[id] == 1)
        #expect(try await cluster.total("succeeded") == 1)
    }

    @Test("a job that kills its worker every time is quarantined to dead after CONVEYOR_MAX_CRASHES")
    func poisonJobQuarantine() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        _ = try cluster.promoter()
        let id = try await cluster.enqueueOne("sleep", ["--payload", #"{"ms":60000}"#])
        for crash in 1...3 {
            let worker = try cluster.worker(lease: "1s", concurrency: 1)
            try await cluster.waitForJob(id, "running on worker \(crash)") { $0.state == .running && isHeld($0, by: worker) }
            worker.signal(SIGKILL)
            #expect(await worker.waitForExit(timeout: 5) != nil)
            try await cluster.waitForJob(id, "crash \(crash) counted") { $0.crashes == crash }
        }
        let dead = try await cluster.waitForJob(id, "dead") { $0.state == .dead }
        #expect(dead.crashes == 3)
        #expect(dead.attempts == 0)
        let reason = try #require(dead.lastError)
        #expect(reason.contains("quarantined"))
        #expect(reason.contains("3 times"))

        let list = try await cluster.run(["dead"])
        let deadJobs = try #require(try list.object()["jobs"] as? [[String: Any]])
        #expect(deadJobs.map { $0["id"] as? String } == [id])

        // Not requeued again: a fresh worker runs later work and the poison job stays dead.
        let survivor = try cluster.worker(lease: "1s", concurrency: 1)
        let marker = try await cluster.enqueueOne("echo", ["--payload", "1"])
        let markerDone = try await cluster.waitForJob(marker, "succeeded") { $0.state == .succeeded }
        #expect(isHeld(markerDone, by: survivor))
        #expect(try await cluster.broker.job(id)?.state == .dead)
        let events = try await cluster.allEvents()
        #expect(eventCounts(events, "started")[id] == 3)
        #expect(eventCounts(events, "stalled")[id] == 2)
        #expect(eventCounts(events, "dead")[id] == 1)
        let stats = try await cluster.broker.stats()
        #expect(stats.dead == 1)
        #expect(stats.running == 0)
        #expect(stats.queues["default"]?.normal == 0)
        #expect(stats.totals["dead"] == 1)
    }
}
