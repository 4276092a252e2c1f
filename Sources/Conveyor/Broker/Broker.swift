import Foundation
import Logging
import RedisClient

/// The client side of Conveyor: enqueue, inspect, cancel, retry, pause, and read statistics.
///
/// Every state change runs as one Lua script from `Lua/`; this type only validates input, builds the
/// script arguments and reads replies. Workers and promoters use it too, through the `*(on:)`
/// variants that run on a connection they already hold.
public final class Broker: Sendable {
    public let configuration: BrokerConfiguration
    public let keys: BrokerKeys
    public let scripts: BrokerScripts
    /// Connections for everything but blocking waits.
    public let pool: RedisPool
    /// Checks Redis's `maxmemory-policy` on every new connection of `pool` and of every pool made
    /// from `pool.configuration` (workers' and writers' own lanes).
    public let evictionCheck: EvictionPolicyCheck
    let logger: Logger

    /// The most jobs one enqueue script call carries; larger batches are split.
    public static let enqueueChunk = 1_000

    public init(
        redis: RedisConfiguration,
        configuration: BrokerConfiguration = BrokerConfiguration(),
        poolSize: Int = 4,
        logger: Logger = Logger(label: "conveyor.broker")
    ) {
        self.configuration = configuration
        self.keys = BrokerKeys(namespace: configuration.namespace)
        self.scripts = BrokerScripts(functions: configuration.functions)
        let check = EvictionPolicyCheck(allowEviction: configuration.allowEviction, logger: logger)
        var redis = redis
        redis.onConnect = RedisConnectHook { connection, reconnect in try check.check(connection, reconnect: reconnect) }
        self.evictionCheck = check
        self.pool = RedisPool(configuration: redis, size: poolSize, name: "conveyor-redis")
        self.logger = logger
    }

    /// Loads every script into Redis (SCRIPT LOAD) so the first calls need no extra round trip, and
    /// builds the per-queue counters of ``queueCounts()`` if this namespace has none yet (instant on
    /// a new namespace; one scan of its delayed, running and dead jobs on one that predates them).
    public func prepare() async throws {
        let scripts = self.scripts.all
        try await pool.withConnection { connection in
            for script in scripts { try script.load(on: connection) }
        }
        try await rebuildQueueCounts(force: false)
    }

    /// Closes the connection threads.
    public func shutdown() { pool.close() }

    // MARK: enqueue

    /// Enqueues one job.
    public func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        try await enqueue(batch: [request])[0]
    }

    /// Enqueues jobs in order. Up to ``enqueueChunk`` jobs go in one atomic script call (all or
    /// nothing), or the whole batch when `atomic`; the whole batch is validated before anything is sent.
    public func enqueue(batch requests: [EnqueueRequest], atomic: Bool = false) async throws -> [EnqueueResult] {
        for (index, request) in requests.enumerated() {
            do { try request.validate(maxPayloadBytes: configuration.maxPayloadBytes) } catch {
                throw requests.count == 1 ? error : ConveyorError(.invalidArgument, "job \(index): \(error.message)")
            }
        }
        return try await enqueueValidated(requests, atomic: atomic)
    }

    /// ``enqueue(batch:atomic:)`` for requests that already passed `validate(maxPayloadBytes:)`.
    func enqueueValidated(_ requests: [EnqueueRequest], atomic: Bool) async throws -> [EnqueueResult] {
        var results: [EnqueueResult] = []
        results.reserveCapacity(requests.count)
        var start = 0
        while start < requests.count {
            let size = atomic ? requests.count : Self.enqueueChunk
            let chunk = Array(requests[start..<min(requests.count, start + size)])
            let (arguments, ids) = enqueueArguments(chunk)
            let keys = [keys.delayed, keys.stats, keys.events, keys.promoterWake].map { $0.redisBytes }
            let script = scripts.enqueue
            let replicas = configuration.enqueueReplicas
            let waitMilliseconds = configuration.enqueueReplicaTimeoutMilliseconds
            let reply = try await pool.withConnection { connection in
                let reply = try script.run(on: connection, keys: keys, arguments: arguments)
                if replicas > 0 { try Self.waitForReplicas(on: connection, replicas, milliseconds: waitMilliseconds) }
                return reply
            }
            guard let rows = reply.array, rows.count == chunk.count else {
                throw ConveyorError(.redis, "enqueue: unexpected reply \(reply)")
            }
            for (id, row) in zip(ids, rows) {
                guard let status = row.string else { throw ConveyorError(.redis, "enqueue: unexpected row \(row)") }
                if status.hasPrefix("="), let colon = status.firstIndex(of: ":"),
                    let state = JobState(rawValue: String(status[status.index(after: status.startIndex)..<colon]))
                {
                    results.append(EnqueueResult(id: String(status[status.index(after: colon)...]), state: state, duplicate: true))
                } else if let state = JobState(rawValue: status) {
                    results.append(EnqueueResult(id: id, state: state, duplicate: false))
                } else {
                    throw ConveyorError(.redis, "enqueue: unexpected status \(status)")
                }
            }
            start += chunk.count
        }
        return results
    }

    /// `WAIT replicas milliseconds` on the connection that just wrote: returns once that many replicas
    /// have every write made on it so far.
    ///
    /// - Throws: `RedisError(.timeout)` when fewer confirmed in time (the write is on the master, but
    ///   a failover now could lose it), and connection errors as usual.
    static func waitForReplicas(on connection: RedisConnection, _ replicas: Int, milliseconds: Int) throws {
        let reply = try connection.send(
            ["WAIT".redisBytes, replicas.redisBytes, milliseconds.redisBytes],
            timeoutMilliseconds: milliseconds + connection.configuration.commandTimeoutMilliseconds
        ).throwingServerError()
        let confirmed = reply.int ?? 0
        if confirmed < replicas {
            throw RedisError(
                .timeout, "enqueued, but \(confirmed) of \(replicas) replicas confirmed it within \(milliseconds) ms (CONVEYOR_REDIS_WAIT)")
        }
    }

    private func enqueueArguments(_ requests: [EnqueueRequest]) -> (arguments: [[UInt8]], ids: [String]) {
        var arguments: [[UInt8]] = [keys.prefix.redisBytes, configuration.eventsHardMaxLength.redisBytes, requests.count.redisBytes]
        arguments.reserveCapacity(3 + requests.count * 11)
        // Bulk enqueues repeat one request many times: its encoded fields are shared, not re-encoded.
        var previous: EnqueueRequest?
        var fields: [[UInt8]] = []
        var ids: [String] = []
        ids.reserveCapacity(requests.count)
        for var request in requests {
            let id = request.id ?? JobID.make()
            request.id = nil
            if request != previous {
                fields = [
                    request.type.redisBytes, request.queue.redisBytes, request.priority.rawValue.redisBytes,
                    request.payload.redisBytes, request.maxAttempts.redisBytes, request.retryPolicy.encoded.redisBytes,
                    request.timeoutMilliseconds.redisBytes, (request.delayMilliseconds ?? -1).redisBytes,
                    (request.runAt.map { max(0, Int(($0.timeIntervalSince1970 * 1000).rounded())) } ?? -1).redisBytes,
                    (request.uniqueKey ?? "").redisBytes,
                ]
                previous = request
            }
            ids.append(id)
            arguments.append(id.redisBytes)
            arguments.append(contentsOf: fields)
        }
        return (arguments, ids)
    }

    // MARK: inspect

    /// The job as Redis holds it now; nil once it left Redis (or never existed).
    public func job(_ id: String) async throws -> Job? {
        guard JobID.isValid(id) else { return nil }
        let reply = try await pool.command("HGETALL", keys.job(id))
        return reply.fieldMap.flatMap(Job.init(fields:))
    }

    /// Queue depths, counts and totals.
    public func stats() async throws -> BrokerStats {
        let first = try await pool.pipeline([
            ["SMEMBERS", keys.queues], ["SMEMBERS", keys.paused], ["ZCARD", keys.delayed],
            ["ZCARD", keys.inflight], ["ZCARD", keys.dead], ["HGETALL", keys.stats],
        ])
        let queues = (first[0].array ?? []).compactMap(\.string).sorted()
        let paused = Set((first[1].array ?? []).compactMap(\.string))
        var commands: [[any RedisArgument]] = []
        for queue in queues {
            for priority in JobPriority.allCases { commands.append(["LLEN", keys.list(queue, priority)]) }
        }
        let lengths = commands.isEmpty ? [] : try await pool.pipeline(commands)
        var perQueue: [String: QueueStats] = [:]
        for (index, queue) in queues.enumerated() {
            perQueue[queue] = QueueStats(
                high: lengths[index * 3].int ?? 0, normal: lengths[index * 3 + 1].int ?? 0,
                low: lengths[index * 3 + 2].int ?? 0, paused: paused.contains(queue))
        }
        let totals = (first[5].fieldMap ?? [:]).compactMapValues { Int($0) }
        return BrokerStats(
            queues: perQueue, delayed: first[2].int ?? 0, running: first[3].int ?? 0, dead: first[4].int ?? 0,
            totals: totals)
    }

    /// Dead-letter jobs, newest first.
    public func deadJobs(offset: Int = 0, limit: Int = 100) async throws -> [Job] {
        let ids = try await pool.command("ZREVRANGE", keys.dead, offset, offset + max(1, limit) - 1).array ?? []
        let commands: [[any RedisArgument]] = ids.compactMap(\.string).map { ["HGETALL", keys.job($0)] }
        guard !commands.isEmpty else { return [] }
        return try await pool.pipeline(commands).compactMap { $0.fieldMap.flatMap(Job.init(fields:)) }
    }

    /// One page of dead-letter jobs, most recently dead first, and the cursor of the next page (nil on
    /// the last). Keyset paging on (death time, id): jobs dying meanwhile never shift a page.
    public func deadJobs(limit: Int, cursor: String?) async throws -> (jobs: [Job], nextCursor: String?) {
        let limit = max(1, min(limit, 1_000))
        var rows: [(id: String, score: Int)] = []
        if let cursor {
            let parts = cursor.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let score = Int(parts[0]), JobID.isValid(parts[1]) else {
                throw ConveyorError(.invalidArgument, "cursor '\(cursor.prefix(80))' is not one this API returned")
            }
            // Same-score members come in reverse id order: skip the ties up to and including the cursor.
            let ties = try await pool.command("ZCOUNT", keys.dead, score, score).int ?? 0
            let reply = try await pool.command("ZREVRANGEBYSCORE", keys.dead, score, "-inf", "WITHSCORES", "LIMIT", 0, limit + 1 + ties)
            rows = Self.scoredMembers(reply).filter { $0.score < score || ($0.score == score && $0.id < parts[1]) }
        } else {
            rows = Self.scoredMembers(try await pool.command("ZREVRANGE", keys.dead, 0, limit, "WITHSCORES"))
        }
        let page = Array(rows.prefix(limit))
        let next = rows.count > limit ? page.last.map { "\($0.score):\($0.id)" } : nil
        guard !page.isEmpty else { return ([], nil) }
        let replies = try await pool.pipeline(page.map { ["HGETALL", keys.job($0.id)] })
        return (replies.compactMap { $0.fieldMap.flatMap(Job.init(fields:)) }, next)
    }

    private static func scoredMembers(_ reply: RedisValue) -> [(id: String, score: Int)] {
        let items = reply.array ?? []
        return stride(from: 0, to: items.count - 1, by: 2).compactMap { index in
            guard let id = items[index].string, let score = items[index + 1].string.flatMap(Double.init) else { return nil }
            return (id, Int(score))
        }
    }

    /// Workers whose heartbeat is recent.
    public func workers() async throws -> [WorkerInfo] {
        let ids = try await pool.command("ZRANGE", keys.workers, 0, -1).array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return [] }
        let replies = try await pool.pipeline(ids.map { ["GET", keys.worker($0)] })
        return replies.compactMap { reply in
            reply.string.flatMap { try? JSONDecoder().decode(WorkerInfo.self, from: Data($0.utf8)) }
        }
    }

    // MARK: change

    /// Cancels a job that has not finished. A running job's worker stops its handler.
    public func cancel(_ id: String) async throws -> (outcome: CancelOutcome, previous: JobState?) {
        guard JobID.isValid(id) else { return (.notFound, nil) }
        let reply = try await scripts.cancel.run(
            on: pool, keys: [keys.delayed, keys.stats, keys.events, keys.dead],
            arguments: [keys.prefix, configuration.eventsHardMaxLength, id, configuration.keepFinishedMilliseconds])
        let fields = reply.array?.compactMap(\.string) ?? []
        let state = fields.count > 1 ? JobState(rawValue: fields[1]) : nil
        switch fields.first {
        case "cancelled": return (.cancelled, state)
        case "finished": return (.alreadyFinished, state)
        default: return (.notFound, nil)
        }
    }

    /// Puts dead or cancelled jobs back on their queue. Returns each id's outcome: `retried`,
    /// `notfound`, `duplicate` (its unique key names another unfinished job), or the state that kept it.
    public func retry(ids: [String]) async throws -> [String: String] {
        // Each id once (a repeated id would be retried, then reported as the state it just reached).
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        let valid = unique.filter(JobID.isValid)
        var outcome: [String: String] = Dictionary(uniqueKeysWithValues: unique.filter { !JobID.isValid($0) }.map { ($0, "notfound") })
        guard !valid.isEmpty else { return outcome }
        let reply = try await scripts.retry.run(
            on: pool, keys: [keys.dead, keys.stats, keys.events, keys.inflight],
            arguments: [keys.prefix, configuration.eventsHardMaxLength] + valid)
        for (id, status) in zip(valid, reply.array ?? []) { outcome[id] = status.string ?? "notfound" }
        return outcome
    }

    /// Retries every dead job, a thousand per script call. Returns how many went back to their queue.
    public func retryAllDead(progress: (Int) -> Void = { _ in }) async throws -> Int {
        var total = 0
        var offset = 0
        while true {
            let ids = try await pool.command("ZRANGE", keys.dead, offset, offset + 999).array?.compactMap(\.string) ?? []
            if ids.isEmpty { return total }
            let outcome = try await retry(ids: ids)
            let queued = outcome.values.filter { $0 == "retried" }.count
            total += queued
            progress(total)
            offset += ids.count - queued - outcome.values.filter { $0 == "notfound" }.count
        }
    }

    /// Deletes dead jobs for good. Returns how many were deleted.
    public func deleteDead(ids: [String]) async throws -> Int {
        let valid = ids.filter(JobID.isValid)
        guard !valid.isEmpty else { return 0 }
        let reply = try await scripts.deleteDead.run(
            on: pool, keys: [keys.dead, keys.events], arguments: [keys.prefix, configuration.eventsHardMaxLength] + valid)
        return reply.int ?? 0
    }

    /// Stops workers from taking jobs from `queue`; jobs keep arriving. Returns false if already paused.
    @discardableResult
    public func pause(queue: String) async throws -> Bool { try await setPaused(queue, "pause") }

    /// Lets workers take jobs from `queue` again. Returns false if it was not paused.
    @discardableResult
    public func resume(queue: String) async throws -> Bool { try await setPaused(queue, "resume") }

    private func setPaused(_ queue: String, _ action: String) async throws -> Bool {
        guard Names.isValid(queue) else {
            throw ConveyorError(.invalidArgument, "queue '\(queue)' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        let reply = try await scripts.pause.run(
            on: pool, keys: [keys.paused, keys.events], arguments: [keys.prefix, configuration.eventsHardMaxLength, queue, action])
        return reply.int == 1
    }
}

/// What a cancel did.
public enum CancelOutcome: String, Sendable {
    case cancelled
    case alreadyFinished = "finished"
    case notFound = "notfound"
}
