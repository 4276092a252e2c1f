import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("conveyor CLI: enqueue, inspect and manage jobs")
struct CLITests {
    @Test("enqueue with every flag; each job reads back with `conveyor job` and then runs")
    func enqueueEveryFlag() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }

        // Queue, priority, attempts, fixed backoff, timeout, unique key, payload.
        let payload = #"{"a":[1,2],"s":"x"}"#
        let main = try await cluster.enqueueOne(
            "echo",
            [
                "--payload", payload, "--queue", "mail", "--priority", "high", "--max-attempts", "5", "--backoff", "fixed:1s",
                "--timeout", "2s", "--unique", "order-17",
            ])
        let job = try await cluster.jobJSON(main)
        #expect(job["id"] as? String == main)
        #expect(job["type"] as? String == "echo")
        #expect(job["queue"] as? String == "mail")
        #expect(job["priority"] as? String == "high")
        #expect(job["state"] as? String == "queued")
        #expect(job["attempts"] as? Int == 0)
        #expect(job["max_attempts"] as? Int == 5)
        #expect(JSONText.string(try #require(job["payload"])) == payload, "payload is embedded as JSON, not a string")
        #expect(job["result"] is NSNull)
        #expect(job["last_error"] is NSNull)
        #expect(job["timeout_ms"] as? Int == 2_000)
        #expect(job["unique_key"] as? String == "order-17")
        let backoff = try #require(job["backoff"] as? [String: Any])
        #expect(backoff["kind"] as? String == "fixed")
        #expect(backoff["base_ms"] as? Int == 1_000)
        for key in ["created_at", "enqueued_at", "updated_at", "run_at"] {
            #expect(isRFC3339(job[key]), "\(key) is \(String(describing: job[key]))")
        }
        #expect(job["started_at"] is NSNull)
        #expect(job["finished_at"] is NSNull)

        // The same unique key while the job is unfinished: the same id, nothing new enqueued.
        #expect(try await cluster.enqueue("echo", ["--queue", "mail", "--unique", "order-17"]) == [main])

        // --delay: scheduled, due exactly 500 ms after creation (both times come from Redis).
        let delayed = try await cluster.enqueueOne("echo", ["--delay", "500ms", "--payload", #"{"late":true}"#])
        let delayedJob = try await cluster.jobJSON(delayed)
        #expect(delayedJob["state"] as? String == "scheduled")
        let created = try #require(date(delayedJob["created_at"]))
        let due = try #require(date(delayedJob["run_at"]))
        #expect(abs(due.timeIntervalSince(created) - 0.5) < 0.002)

        // --at: scheduled for that instant.
        let later = try await cluster.enqueueOne("noop", ["--at", "2030-01-01T00:00:00Z"])
        let laterJob = try await cluster.jobJSON(later)
        #expect(laterJob["state"] as? String == "scheduled")
        #expect(date(laterJob["run_at"]) == Date(timeIntervalSince1970: 1_893_456_000))
        #expect(isRFC3339(laterJob["run_at"]))

        // Exponential backoff with equal jitter.
        let exponential = try await cluster.enqueueOne("noop", ["--backoff", "exponential:100ms:30s:jitter", "--priority", "low"])
        let exponentialJob = try await cluster.jobJSON(exponential)
        let policy = try #require(exponentialJob["backoff"] as? [String: Any])
        #expect(policy["kind"] as? String == "exponential")
        #expect(policy["base_ms"] as? Int == 100)
        #expect(policy["max_ms"] as? Int == 30_000)
        #expect(policy["jitter"] as? Double == 0.5)
        #expect(exponentialJob["priority"] as? String == "low")

        // --count: N ids, one per line, each a job.
        let copies = try await cluster.enqueue("noop", ["--count", "4", "--payload", "[]"])
        #expect(copies.count == 4)
        #expect(Set(copies).count == 4)
        for id in copies {
            let copy = try await cluster.jobJSON(id)
            #expect(copy["type"] as? String == "noop")
            #expect(copy["state"] as? String == "queued")
        }
        #expect(try await cluster.total("enqueued") == 8)

        // A worker and a promoter run everything due.
        _ = try cluster.promoter()
        _ = try cluster.worker(concurrency: 4, queues: "mail,default")
        for id in [main, delayed, exponential] + copies {
            try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
        }
        let done = try await cluster.jobJSON(main)
        #expect(done["state"] as? String == "succeeded")
        #expect(done["attempts"] as? Int == 1)
        #expect(JSONText.string(try #require(done["result"])) == payload)
        #expect(isRFC3339(done["started_at"]))
        #expect(isRFC3339(done["finished_at"]))
        let delayedDone = try await cluster.jobJSON(delayed)
        #expect(try #require(date(delayedDone["started_at"])) >= due)
        #expect((try await cluster.jobJSON(later))["state"] as? String == "scheduled")
    }

    @Test("`conveyor stats` has exactly the documented shape")
    func statsShape() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        _ = try await cluster.enqueue("noop", ["--queue", "alpha", "--priority", "high", "--count", "2"])
        _ = try await cluster.enqueue("noop", ["--queue", "beta", "--priority", "low"])
        _ = try await cluster.enqueue("noop", ["--delay", "1h"])
        #expect(try await cluster.run(["pause", "beta"]).status == 0)

        let stats = try await cluster.statsJSON()
        #expect(Set(stats.keys) == ["queues", "delayed", "running", "dead", "totals"])
        let queues = try #require(stats["queues"] as? [String: Any])
        #expect(Set(queues.keys) == ["alpha", "beta", "default"])
        for (name, value) in queues {
            let queue = try #require(value as? [String: Any], "queue \(name)")
            #expect(Set(queue.keys) == ["high", "normal", "low", "paused"], "queue \(name)")
        }
        let alpha = try #require(queues["alpha"] as? [String: Any])
        #expect(alpha["high"] as? Int == 2)
        #expect(alpha["normal"] as? Int == 0)
        #expect(alpha["paused"] as? Bool == false)
        let beta = try #require(queues["beta"] as? [String: Any])
        #expect(beta["low"] as? Int == 1)
        #expect(beta["paused"] as? Bool == true)
        #expect(stats["delayed"] as? Int == 1)
        #expect(stats["running"] as? Int == 0)
        #expect(stats["dead"] as? Int == 0)
        let totals = try #require(stats["totals"] as? [String: Any])
        for name in ["enqueued", "succeeded", "failed", "retried", "dead", "cancelled"] {
            #expect(totals[name] is Int, "totals.\(name)")
        }
        #expect(totals["enqueued"] as? Int == 4)
        #expect(totals["succeeded"] as? Int == 0)
    }

    @Test("cancel exits 0, then 4 once finished, 3 for an unknown id; job of an unknown id exits 3")
    func cancelAndNotFound() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let scheduled = try await cluster.enqueueOne("noop", ["--delay", "1h"])
        let queued = try await cluster.enqueueOne("noop")

        let first = try await cluster.run(["cancel", scheduled])
        #expect(first.status == 0, "\(first)")
        #expect(first.output.contains("was scheduled"))
        #expect((try await cluster.jobJSON(scheduled))["state"] as? String == "cancelled")
        let again = try await cluster.run(["cancel", scheduled])
        #expect(again.status == 4, "\(again)")
        #expect(again.errorLines.count == 1)

        #expect(try await cluster.run(["cancel", queued]).status == 0)
        let stats = try await cluster.statsJSON()
        #expect(stats["delayed"] as? Int == 0)
        #expect((stats["queues"] as? [String: Any])?["default"].flatMap { $0 as? [String: Any] }?["normal"] as? Int == 0)
        #expect((stats["totals"] as? [String: Any])?["cancelled"] as? Int == 2)

        let unknown = try await cluster.run(["cancel", "no-such-job"])
        #expect(unknown.status == 3, "\(unknown)")
        #expect(unknown.errorLines.count == 1)
        let missing = try await cluster.run(["job", "no-such-job"])
        #expect(missing.status == 3, "\(missing)")
        #expect(missing.errorLines.count == 1)
        #expect(missing.output.isEmpty)

        // A running job: cancelled at once, its worker stops the handler and is free for the next job.
        _ = try cluster.worker(concurrency: 1)
        let long = try await cluster.enqueueOne("sleep", ["--payload", #"{"ms":60000}"#])
        try await cluster.waitForJob(long, "running") { $0.state == .running }
        let cancelRunning = try await cluster.run(["cancel", long])
        #expect(cancelRunning.status == 0, "\(cancelRunning)")
        #expect(cancelRunning.output.contains("was running"))
        let next = try await cluster.enqueueOne("echo", ["--payload", "7"])
        try await cluster.waitForJob(next, "succeeded after the cancelled job freed the only slot") { $0.state == .succeeded }
        #expect(try await cluster.broker.job(long)?.state == .cancelled)
        let finished = try await cluster.run(["cancel", next])
        #expect(finished.status == 4, "\(finished)")
        #expect(finished.error.contains("succeeded"))
    }

    @Test("dead lists dead jobs; --retry, --retry-all and --delete act on them")
    func deadLetter() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let ids = try await cluster.enqueue(
            "fail", ["--payload", #"{"times":100}"#, "--max-attempts", "2", "--backoff", "fixed:10ms", "--count", "3"])
        try #require(ids.count == 3)
        let promoter = try cluster.promoter()
        let worker = try cluster.worker(concurrency: 3)
        for id in ids { try await cluster.waitForJob(id, "dead") { $0.state == .dead } }
        worker.signal(SIGTERM)
        promoter.signal(SIGTERM)
        #expect(await worker.waitForExit(timeout: 10) == 0)
        #expect(await promoter.waitForExit(timeout: 10) == 0)
        let totals = try #require(try await cluster.statsJSON()["totals"] as? [String: Any])
        #expect(totals["failed"] as? Int == 6, "two failed attempts per job")
        #expect(totals["retried"] as? Int == 3)
        #expect(totals["dead"] as? Int == 3)

        let list = try await cluster.run(["dead"])
        #expect(list.status == 0, "\(list)")
        let dead = try #require(try list.object()["jobs"] as? [[String: Any]])
        #expect(Set(dead.compactMap { $0["id"] as? String }) == Set(ids))
        for job in dead {
            #expect(job["state"] as? String == "dead")
            #expect(job["attempts"] as? Int == 2)
            #expect((job["last_error"] as? String)?.contains("failing on purpose") == true)
        }
        let (a, b, c) = (ids[0], ids[1], ids[2])

        let retried = try await cluster.run(["dead", "--retry", a])
        #expect(retried.status == 0, "\(retried)")
        #expect(((try retried.object())["results"] as? [String: String])?[a] == "retried")
        #expect((try retried.object())["retried"] as? Int == 1)
        let requeued = try await cluster.jobJSON(a)
        #expect(requeued["state"] as? String == "queued")
        #expect(requeued["attempts"] as? Int == 0)

        let deleted = try await cluster.run(["dead", "--delete", c])
        #expect(deleted.status == 0, "\(deleted)")
        #expect((try deleted.object())["deleted"] as? Int == 1)
        #expect(try await cluster.run(["job", c]).status == 3)
        #expect(try await cluster.run(["dead", "--delete", c]).status == 3)

        let all = try await cluster.run(["dead", "--retry-all"])
        #expect(all.status == 0, "\(all)")
        #expect((try all.object())["retried"] as? Int == 1)
        #expect((try await cluster.jobJSON(b))["state"] as? String == "queued")

        let stats = try await cluster.statsJSON()
        #expect(stats["dead"] as? Int == 0)
        #expect((stats["queues"] as? [String: Any])?["default"].flatMap { $0 as? [String: Any] }?["normal"] as? Int == 2)
        #expect(try #require(try await cluster.run(["dead"]).object()["jobs"] as? [Any]).isEmpty)
        #expect(try await cluster.run(["dead", "--retry", "no-such-job"]).status == 3)
    }

    @Test("pause stops workers taking a queue's jobs; resume lets them run")
    func pauseResume() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let paused = try await cluster.run(["pause", "slow"])
        #expect(paused.status == 0, "\(paused)")
        #expect(paused.output.contains("paused slow"))
        #expect(try await cluster.run(["pause", "slow"]).output.contains("already paused"))

        _ = try cluster.worker(concurrency: 2, queues: "slow,default")
        let held = try await cluster.enqueueOne("echo", ["--queue", "slow", "--priority", "high", "--payload", "1"])
        // A job on the unpaused queue enqueued after it runs: the worker is serving and skips "slow".
        let marker = try await cluster.enqueueOne("echo", ["--priority", "low", "--payload", "2"])
        try await cluster.waitForJob(marker, "succeeded") { $0.state == .succeeded }
        #expect(try await cluster.broker.job(held)?.state == .queued)
        let stats = try await cluster.statsJSON()
        let slow = try #require((stats["queues"] as? [String: Any])?["slow"] as? [String: Any])
        #expect(slow["paused"] as? Bool == true)
        #expect(slow["high"] as? Int == 1)

        let resumed = try await cluster.run(["resume", "slow"])
        #expect(resumed.status == 0, "\(resumed)")
        #expect(resumed.output.contains("resumed slow"))
        try await cluster.waitForJob(held, "succeeded after resume") { $0.state == .succeeded }
        #expect(try await cluster.run(["resume", "slow"]).output.contains("was not paused"))
    }

    @Test("workers lists a running worker process, and forgets it after a graceful stop")
    func workersList() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let worker = try cluster.worker(concurrency: 3, queues: "default,extra")
        var entry: [String: Any] = [:]
        try await cluster.waitUntil("the worker appears in `conveyor workers`") {
            let result = try await cluster.run(["workers"])
            guard result.status == 0, let list = try result.object()["workers"] as? [[String: Any]] else { return false }
            guard let found = list.first(where: { $0["pid"] as? Int == Int(worker.pid) }) else { return false }
            entry = found
            return true
        }
        #expect(entry["queues"] as? [String] == ["default", "extra"])
        #expect(entry["concurrency"] as? Int == 3)
        #expect((entry["id"] as? String)?.contains(":\(worker.pid):") == true)

        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(timeout: 10) == 0)
        let after = try await cluster.run(["workers"])
        #expect(try #require(try after.object()["workers"] as? [Any]).isEmpty, "\(after)")
    }
}
