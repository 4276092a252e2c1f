import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("EnqueueCoalescer: concurrent single enqueues share script calls, each keeps its own result")
struct EnqueueCoalescerTests {
    @Test("500 concurrent enqueues: every job enqueued once with its own id, in far fewer calls")
    func concurrentEnqueues() async throws {
        try await withBroker { broker in
            let coalescer = EnqueueCoalescer(broker: broker, options: .init(maxInFlight: 2, maxJobs: 100))
            let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        try await coalescer.enqueue(EnqueueRequest(type: "echo", payload: #"{"n":\#(index)}"#, id: "job-\(index)"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.map(\.id)) == Set((0..<500).map { "job-\($0)" }))
            #expect(results.allSatisfy { $0.state == .queued && !$0.duplicate })
            #expect(try await broker.stats().queues["default"]?.normal == 500)
            #expect(try await broker.job("job-7")?.payload == #"{"n":7}"#)
            #expect(coalescer.calls >= 5 && coalescer.calls < 500, "\(coalescer.calls) calls")
        }
    }

    @Test("concurrent enqueues with one unique key: one job, every other caller gets it as a duplicate")
    func uniqueKeyAcrossOneCall() async throws {
        try await withBroker { broker in
            let coalescer = EnqueueCoalescer(broker: broker)
            let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                for _ in 0..<50 { group.addTask { try await coalescer.enqueue(EnqueueRequest(type: "echo", uniqueKey: "once")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.map(\.id)).count == 1)
            #expect(results.filter { !$0.duplicate }.count == 1)
            #expect(try await broker.stats().queues["default"]?.normal == 1)
        }
    }

    @Test("an invalid request fails alone; the others go in")
    func invalidFailsAlone() async throws {
        try await withBroker { (broker: Broker) async throws in
            let coalescer = EnqueueCoalescer(broker: broker)
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    let request = index == 13 ? EnqueueRequest(type: "echo", payload: "{not json") : EnqueueRequest(type: "echo")
                    group.addTask { (try? await coalescer.enqueue(request)) != nil }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { !$0 }.count == 1)
            let error = await #expect(throws: ConveyorError.self) {
                try await coalescer.enqueue(EnqueueRequest(type: "echo", queue: "bad queue"))
            }
            #expect(error?.code == .invalidArgument)
            #expect(try await broker.stats().queues["default"]?.normal == 39)
        }
    }

    @Test("Redis unreachable: every caller gets the error, nothing hangs")
    func redisDown() async throws {
        var redis = TestRedis.shared.configuration
        redis.endpoint = .tcp(host: "127.0.0.1", port: 1)
        redis.connectTimeoutMilliseconds = 500
        let broker = Broker(redis: redis, configuration: BrokerConfiguration(namespace: uniqueNamespace()), poolSize: 2)
        defer { broker.shutdown() }
        let coalescer = EnqueueCoalescer(broker: broker)
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { (try? await coalescer.enqueue(EnqueueRequest(type: "echo"))) == nil } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(failures == Array(repeating: true, count: 20))
    }
}
