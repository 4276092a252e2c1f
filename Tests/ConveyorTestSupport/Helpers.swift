import Conveyor
import Foundation
import RedisClient

/// Runs blocking work (a socket read, starting or stopping a redis-server) on a thread of its own.
/// Not on Swift's cooperative pool: it has one thread per core (2 here), and a blocked one holds up
/// the in-process servers and clients of every test running beside it.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Events of one job, oldest first.
public func events(_ broker: Broker, job id: String) async throws -> [[String: String]] {
    try await events(broker).filter { $0["job"] == id }
}

/// The names of one job's events, oldest first.
public func eventNames(_ broker: Broker, job id: String) async throws -> [String] {
    try await events(broker, job: id).compactMap { $0["event"] }
}

/// Claims up to `max` jobs as `worker` through the API (no Worker service).
public func claim(
    _ broker: Broker, worker: String, leaseMilliseconds: Int = 5_000, max: Int = 10, queues: [String] = ["default"]
) async throws -> [ClaimedJob] {
    try await broker.pool.withConnection { connection in
        try broker.claim(on: connection, worker: worker, leaseMilliseconds: leaseMilliseconds, max: max, queues: queues)
    }
}

/// Reports attempts through the API; returns each job's status by id.
public func acknowledge(_ broker: Broker, _ outcomes: [(job: ClaimedJob, outcome: AttemptOutcome)]) async throws -> [String: String] {
    try await broker.pool.withConnection { connection in try broker.acknowledge(on: connection, outcomes) }
}

/// Parses JSON text into a Foundation object (dictionary, array, number...).
public func jsonObject(_ text: String?) -> Any? {
    guard let text, let data = text.data(using: .utf8) else { return nil }
    return try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
}

/// Milliseconds since 1970 of an event's `ts` (or another numeric field).
public func number(_ event: [String: String], _ field: String) -> Int? {
    event[field].flatMap { Int($0) }
}

/// The jobs schedules enqueued, from the event stream: (schedule, tick ms, enqueued ms, job id).
public func scheduledJobs(_ broker: Broker) async throws -> [(schedule: String, tick: Int, enqueued: Int, id: String)] {
    try await events(broker).compactMap { event in
        guard event["event"] == "enqueued", let schedule = event["schedule"], let tick = number(event, "tick"),
            let ts = number(event, "ts"), let id = event["job"]
        else { return nil }
        return (schedule, tick, ts, id)
    }
}

/// Redis's clock in ms.
public func redisMilliseconds(_ broker: Broker) async throws -> Int {
    let parts = try await broker.pool.command("TIME").array?.compactMap(\.int) ?? []
    return parts[0] * 1000 + parts[1] / 1000
}

/// The repository's top folder (where Package.swift is).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
