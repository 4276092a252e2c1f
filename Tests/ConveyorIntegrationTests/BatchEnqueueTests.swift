import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Batch enqueue: validated as a whole before anything is sent")
struct BatchEnqueueTests {
    @Test(
        "one invalid request in a batch throws and enqueues nothing",
        arguments: [
            EnqueueRequest(type: "echo", payload: "{not json"), EnqueueRequest(type: "echo", queue: "bad queue"),
            EnqueueRequest(type: ""), EnqueueRequest(type: "echo", maxAttempts: 0),
            EnqueueRequest(type: "echo", delayMilliseconds: -1), EnqueueRequest(type: "echo", uniqueKey: ""),
            EnqueueRequest(type: "echo", id: "has:colon"),
            EnqueueRequest(type: "echo", retryPolicy: RetryPolicy(kind: .exponential, baseMilliseconds: 10, maxMilliseconds: 5)),
        ])
    func invalidRequestRejectsBatch(_ invalid: EnqueueRequest) async throws {
        try await withBroker { broker in
            let batch = [EnqueueRequest(type: "echo"), EnqueueRequest(type: "echo", delayMilliseconds: 1_000), invalid]
            let error = await #expect(throws: ConveyorError.self) { try await broker.enqueue(batch: batch) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.hasPrefix("job 2: ") == true, "\(error?.message ?? "")")
            let stats = try await broker.stats()
            #expect(stats.totals["enqueued"] == nil)
            #expect(stats.delayed == 0)
            #expect(stats.queues.isEmpty)
            #expect(try await events(broker).isEmpty)
        }
    }

    @Test("a batch larger than one script call is enqueued in order")
    func largeBatch() async throws {
        try await withBroker { broker in
            let results = try await broker.enqueue(batch: (0..<2_500).map { EnqueueRequest(type: "echo", id: "job-\($0)") })
            #expect(results.map(\.id) == (0..<2_500).map { "job-\($0)" })
            #expect(try await broker.stats().queues["default"]?.normal == 2_500)
            #expect(try await claim(broker, worker: "w", max: 3).map(\.id) == ["job-0", "job-1", "job-2"])
        }
    }
}
