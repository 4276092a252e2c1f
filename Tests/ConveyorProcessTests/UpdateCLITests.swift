import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("conveyor update: change a job that has not started")
struct UpdateCLITests {
    @Test("every flag; exit 4 for a finished job, 3 for an unknown one, 2 for bad input")
    func updateFlagsAndExitCodes() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let id = try await cluster.enqueueOne("echo", ["--payload", #"{"v":0}"#, "--priority", "low"])

        let result = try await cluster.run([
            "update", id, "--priority", "high", "--payload", #"{"v":1}"#, "--max-attempts", "5", "--backoff", "fixed:2s", "--timeout", "3s",
        ])
        #expect(result.status == 0, "\(result)")
        let answer = try result.object()
        #expect(answer["state"] as? String == "queued")
        #expect(answer["previous_state"] as? String == "queued")
        #expect(answer["changed"] as? [String] == ["priority", "payload", "max_attempts", "backoff", "timeout_ms"])
        let job = try await cluster.jobJSON(id)
        #expect(job["priority"] as? String == "high")
        #expect(JSONText.string(try #require(job["payload"])) == #"{"v":1}"#)
        #expect(job["max_attempts"] as? Int == 5)
        #expect((job["backoff"] as? [String: Any])?["base_ms"] as? Int == 2_000)
        #expect(job["timeout_ms"] as? Int == 3_000)

        let later = try await cluster.run(["update", id, "--delay", "1h"])
        #expect(later.status == 0, "\(later)")
        #expect(try later.object()["state"] as? String == "scheduled")
        let at = try await cluster.run(["update", id, "--at", "2030-01-01T00:00:00Z"])
        #expect(at.status == 0, "\(at)")
        #expect(try await cluster.broker.job(id)?.runAt == Date(timeIntervalSince1970: 1_893_456_000))
        let now = try await cluster.run(["update", id, "--delay", "0s"])
        #expect(try now.object()["state"] as? String == "queued")

        for bad in [
            ["--delay", "5s", "--at", "2030-01-01T00:00:00Z"], ["--payload", "{nope"], ["--priority", "urgent"], [],
            ["--max-attempts", "0"], ["--backoff", "sometimes"], ["--timeout", "soon"], ["--at", "tomorrow"],
        ] {
            let refused = try await cluster.run(["update", id] + bad)
            #expect(refused.status == 2, "\(bad): \(refused)")
            #expect(refused.errorLines.count == 1, "\(bad): \(refused)")
        }
        #expect(try await cluster.broker.job(id)?.payload == #"{"v":1}"#)

        #expect(try await cluster.run(["cancel", id]).status == 0)
        let finished = try await cluster.run(["update", id, "--priority", "low"])
        #expect(finished.status == 4, "\(finished)")
        #expect(finished.error.contains("cancelled"))
        #expect(try await cluster.broker.job(id)?.priority == .high)

        // A running job: refused with its state, left as it is.
        _ = try cluster.worker(concurrency: 1)
        let long = try await cluster.enqueueOne("sleep", ["--payload", #"{"ms":60000}"#])
        try await cluster.waitForJob(long, "running") { $0.state == .running }
        let running = try await cluster.run(["update", long, "--payload", #"{"ms":1}"#])
        #expect(running.status == 4, "\(running)")
        #expect(running.error.contains("running"))
        #expect(try await cluster.broker.job(long)?.payload == #"{"ms":60000}"#)
        #expect(try await cluster.run(["cancel", long]).status == 0)

        let unknown = try await cluster.run(["update", "no-such-job", "--priority", "low"])
        #expect(unknown.status == 3, "\(unknown)")
        #expect(unknown.errorLines.count == 1)
    }
}
