import Conveyor
import ConveyorHistory
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("History: updated jobs")
struct HistoryUpdateTests {
    @Test("an update is a timeline entry naming the changed fields, and the jobs document has the new values")
    func updateIsRecorded() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let id = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"v":0}"#, priority: .low)).id
                let runAt = Date(timeIntervalSince1970: 4_102_444_800)  // 2100-01-01
                let policy = RetryPolicy.fixed(milliseconds: 2_000)
                let first = try await broker.update(
                    id: id,
                    JobUpdate(priority: .high, runAt: runAt, payload: #"{"v":1,"s":"x"}"#, maxAttempts: 9, retryPolicy: policy))
                #expect(
                    first
                        == .updated(
                            state: .scheduled, previous: .queued, changed: ["priority", "run_at", "payload", "max_attempts", "backoff"]))
                let second = try await broker.update(id: id, JobUpdate(timeoutMilliseconds: 5_000))
                #expect(second == .updated(state: .scheduled, previous: .scheduled, changed: ["timeout_ms"]))
                try await withServices([historyWriter(broker, mongo)]) {
                    try await expectHistoryComplete(broker, mongo)
                }
                let history = try #require(try await HistoryQueries(mongo: mongo).job(id))
                let document = history.job
                #expect(document["state"] == "scheduled")
                #expect(document["last_event"] == "updated")
                #expect(document["priority"] == "high")
                #expect(document["payload"]?.documentValue?["v"]?.intValue == 1)
                #expect(document["payload"]?.documentValue?["s"] == "x")
                #expect(document["max_attempts"]?.intValue == 9)
                #expect(document["backoff"] == .string(policy.encoded))
                #expect(document["timeout_ms"]?.intValue == 5_000)
                #expect(document["run_at"]?.dateValue == runAt)
                #expect(document["type"] == "echo")
                #expect(document["queue"] == "default")

                let names = history.timeline.compactMap { $0["event"]?.stringValue }
                #expect(names == ["enqueued", "updated", "updated"])
                let update = history.timeline[1]
                #expect(update["changed"] == "priority,run_at,payload,max_attempts,backoff")
                #expect(update["state"] == "scheduled")
                #expect(update["from"] == "queued")
                #expect(update["run_at"]?.dateValue == runAt)
                #expect(update["max_attempts"]?.intValue == 9)
                #expect(update["payload"]?.documentValue?["v"]?.intValue == 1)
                #expect(history.timeline[2]["timeout_ms"]?.intValue == 5_000)
            }
        }
    }
}
