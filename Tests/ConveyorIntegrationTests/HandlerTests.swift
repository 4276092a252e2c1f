import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// A typed job pushed from Swift and handled by a registered handler.
private struct Greeting: JobParameters {
    static let jobType = "greeting"
    var name: String
    var excited: Bool
}

private struct GreetingResult: Codable, Sendable, Equatable {
    var text: String
    var attempt: Int
}

@Suite("Handlers: the built-in job types, typed jobs, and handler errors")
struct HandlerTests {
    @Test("echo returns its payload")
    func echo() async throws {
        try await withBroker { broker in
            let payload = #"{"list":[1,"two",null],"nested":{"ok":true}}"#
            let job = try await broker.enqueue(EnqueueRequest(type: "echo", payload: payload))
            try await withWorker(broker) { _ in
                let done = try await waitForState(broker, job.id, .succeeded)
                let result = try #require(jsonObject(done.result) as? NSDictionary)
                #expect(result == (jsonObject(payload) as? NSDictionary))
            }
        }
    }

    @Test("math adds, subtracts, multiplies and divides; division by zero fails the attempt")
    func math() async throws {
        try await withBroker { broker in
            let cases: [(String, Double)] = [("add", 9.5), ("sub", 5.5), ("mul", 15), ("div", 3.75)]
            let ids = try await broker.enqueue(
                batch: cases.map { EnqueueRequest(type: "math", payload: #"{"op":"\#($0.0)","a":7.5,"b":2}"#) }
            ).map(\.id)
            let zero = try await broker.enqueue(
                EnqueueRequest(type: "math", payload: #"{"op":"div","a":1,"b":0}"#, maxAttempts: 2, retryPolicy: .none))
            let badOp = try await broker.enqueue(EnqueueRequest(type: "math", payload: #"{"op":"pow","a":1,"b":2}"#, maxAttempts: 1))
            try await withWorker(broker) { _ in
                for (id, (op, expected)) in zip(ids, cases) {
                    let job = try await waitForState(broker, id, .succeeded)
                    #expect((jsonObject(job.result) as? NSNumber)?.doubleValue == expected, "\(op): \(job.result ?? "nil")")
                }
                let dead = try await waitForState(broker, zero.id, .dead)
                #expect(dead.lastError == "division by zero")
                #expect(dead.attempts == 2)
                #expect(try await waitForState(broker, badOp.id, .dead).lastError?.contains("'pow'") == true)
            }
            let retrying = try #require(try await events(broker, job: zero.id).first { $0["event"] == "retrying" })
            #expect(retrying["error"] == "division by zero")
        }
    }

    @Test("fail fails its first N attempts; rate 1.0 always fails, rate 0.0 never")
    func fail() async throws {
        try await withBroker { broker in
            let twice = try await broker.enqueue(
                EnqueueRequest(type: "fail", payload: #"{"times":2}"#, maxAttempts: 2, retryPolicy: .none))
            let always = try await broker.enqueue(
                EnqueueRequest(type: "fail", payload: #"{"rate":1.0}"#, maxAttempts: 4, retryPolicy: .none))
            let never = try await broker.enqueue(
                batch: (0..<20).map { _ in EnqueueRequest(type: "fail", payload: #"{"rate":0.0}"#, maxAttempts: 1) }
            ).map(\.id)
            try await withWorker(broker) { _ in
                let dead = try await waitForState(broker, twice.id, .dead)
                #expect(dead.lastError == "failing on purpose: attempt 2 of the first 2")
                let alwaysDead = try await waitForState(broker, always.id, .dead)
                #expect(alwaysDead.attempts == 4)
                #expect(alwaysDead.lastError?.contains("at random (rate 1.0)") == true)
                for id in never {
                    let job = try await waitForState(broker, id, .succeeded)
                    #expect(job.attempts == 1)
                    #expect(job.result == nil)
                }
            }
        }
    }

    @Test("sleep waits the given time; a negative time fails")
    func sleep() async throws {
        try await withBroker { broker in
            let job = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":150}"#))
            let negative = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":-1}"#, maxAttempts: 1))
            try await withWorker(broker) { _ in
                try await waitForState(broker, job.id, .succeeded)
                #expect(try await waitForState(broker, negative.id, .dead).lastError == "ms must not be negative")
            }
            let succeeded = try #require(try await events(broker, job: job.id).last)
            #expect(try #require(number(succeeded, "duration_ms")) >= 150)
        }
    }

    @Test("an unknown job type is a failed attempt with a clear error, and the worker goes on")
    func unknownType() async throws {
        try await withBroker { broker in
            let unknown = try await broker.enqueue(EnqueueRequest(type: "no.such.type", maxAttempts: 1))
            let after = try await broker.enqueue(EnqueueRequest(type: "echo"))
            try await withWorker(broker, options: WorkerOptions(concurrency: 1)) { _ in
                let dead = try await waitForState(broker, unknown.id, .dead)
                #expect(dead.lastError?.hasPrefix("unknown job type 'no.such.type'") == true, "\(dead.lastError ?? "")")
                #expect(dead.lastError?.contains("echo") == true)
                try await waitForState(broker, after.id, .succeeded)
            }
        }
    }

    @Test("a payload that does not fit the parameters type fails naming the field")
    func payloadMismatch() async throws {
        try await withBroker { broker in
            let missing = try await broker.enqueue(EnqueueRequest(type: "math", payload: #"{"op":"add","a":1}"#, maxAttempts: 1))
            let wrongType = try await broker.enqueue(
                EnqueueRequest(type: "math", payload: #"{"op":"add","a":"one","b":2}"#, maxAttempts: 1))
            try await withWorker(broker) { _ in
                let first = try await waitForState(broker, missing.id, .dead)
                #expect(first.lastError?.contains("payload does not fit math") == true, "\(first.lastError ?? "")")
                #expect(first.lastError?.contains("'b'") == true, "\(first.lastError ?? "")")
                let second = try await waitForState(broker, wrongType.id, .dead)
                #expect(second.lastError?.contains("'a'") == true, "\(second.lastError ?? "")")
            }
        }
    }

    @Test("a typed job pushed from Swift runs its registered handler; the Encodable result is stored as JSON")
    func typedJob() async throws {
        try await withBroker { broker in
            let registry = testRegistry { registry in
                registry.register(Greeting.self) { (greeting: Greeting, context: JobContext) -> GreetingResult in
                    GreetingResult(text: "Hello, \(greeting.name)\(greeting.excited ? "!" : ".")", attempt: context.attempt)
                }
            }
            let pushed = try await broker.push(Greeting(name: "Ada", excited: true), options: JobOptions(queue: "typed"))
            let stored = try #require(try await broker.job(pushed.id))
            #expect(stored.type == "greeting")
            #expect(stored.queue == "typed")
            #expect((jsonObject(stored.payload) as? NSDictionary) == ["name": "Ada", "excited": true])
            try await withWorker(broker, registry: registry, options: WorkerOptions(queues: ["typed"])) { _ in
                let job = try await waitForState(broker, pushed.id, .succeeded)
                let result = try JSONDecoder().decode(GreetingResult.self, from: Data(try #require(job.result).utf8))
                #expect(result == GreetingResult(text: "Hello, Ada!", attempt: 1))
            }
        }
    }
}
