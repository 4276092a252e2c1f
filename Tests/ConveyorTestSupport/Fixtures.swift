import Conveyor
import ConveyorHistory
import Foundation
import Logging
import RedisClient
import ServiceLifecycle

/// A fresh namespace name, so tests can share one Redis and run in parallel.
public func uniqueNamespace(_ label: String = "t") -> String {
    "\(label)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Runs `body` with a broker on its own namespace of `redis` (the shared test server by default).
@discardableResult
public func withBroker<T>(
    redis: TestRedis = .shared, configure: (inout BrokerConfiguration) -> Void = { _ in },
    _ body: (Broker) async throws -> T
) async throws -> T {
    var configuration = BrokerConfiguration(namespace: uniqueNamespace())
    configure(&configuration)
    let broker = Broker(redis: redis.configuration, configuration: configuration, poolSize: 4)
    defer { broker.shutdown() }
    try await broker.prepare()
    return try await body(broker)
}

/// Runs `services` in a ServiceGroup while `body` runs, then shuts them down gracefully and waits.
@discardableResult
public func withServices<T>(_ services: [any Service], _ body: () async throws -> T) async throws -> T {
    var logger = Logger(label: "conveyor.test")
    logger.logLevel = .warning
    let group = ServiceGroup(services: services, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let value = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// A registry with the built-in job types, plus whatever `extra` registers.
public func testRegistry(_ extra: (inout JobRegistry) -> Void = { _ in }) -> JobRegistry {
    var registry = JobRegistry()
    BuiltinJobs.register(in: &registry)
    extra(&registry)
    return registry
}

/// A quiet logger for services under test.
public var quietLogger: Logger {
    var logger = Logger(label: "conveyor.test")
    logger.logLevel = .error
    return logger
}

/// Runs a worker (and, unless `promoter` is false, a promoter) on `broker` while `body` runs.
@discardableResult
public func withWorker<T>(
    _ broker: Broker, registry: JobRegistry = testRegistry(), options: WorkerOptions = WorkerOptions(), promoter: Bool = true,
    _ body: (Worker) async throws -> T
) async throws -> T {
    let worker = Worker(broker: broker, registry: registry, options: options, logger: quietLogger)
    var services: [any Service] = [worker]
    if promoter { services.insert(Promoter(broker: broker, logger: quietLogger), at: 0) }
    return try await withServices(services) { try await body(worker) }
}

/// Polls `condition` until it holds; fails with `message` after `timeout` seconds.
public func eventually(
    timeout: Double = 10, _ message: @autoclosure () -> String = "condition not met in time",
    _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    if try await condition() { return }
    throw ConveyorError(.timeout, message())
}

/// Waits until the job reaches `state`; returns the job.
@discardableResult
public func waitForState(_ broker: Broker, _ id: String, _ state: JobState, timeout: Double = 10) async throws -> Job {
    var last: Job?
    try await eventually(
        timeout: timeout, "job \(id) did not reach \(state) (last: \(last.map { "\($0.state) \($0.lastError ?? "")" } ?? "gone"))"
    ) {
        last = try await broker.job(id)
        return last?.state == state
    }
    return last!
}

/// Every event of the namespace's event stream, oldest first, as field maps (`_id` the event's id),
/// decoded as the history writer and the live feed decode them (`HistoryEvent.decode`).
public func events(_ broker: Broker) async throws -> [[String: String]] {
    var events: [[String: String]] = []
    try await HistoryWriter.scanEvents(broker) { page in
        for event in page {
            var fields = event.fields
            fields["_id"] = event.id
            events.append(fields)
        }
    }
    return events
}
