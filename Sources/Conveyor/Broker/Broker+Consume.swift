import Foundation
import RedisClient

/// A job a worker claimed: what its handler needs, and the lock token that fences its ack.
public struct ClaimedJob: Sendable {
    public var id: String
    public var token: String
    public var type: String
    public var queue: String
    public var priority: JobPriority
    /// The payload as JSON text.
    public var payload: String
    /// This attempt's number, from 1.
    public var attempt: Int
    public var maxAttempts: Int
    public var timeoutMilliseconds: Int
    /// When the job last became queued (ms since 1970, Redis clock).
    public var enqueuedAtMilliseconds: Int
    public var crashes: Int
    public var createdAtMilliseconds: Int
    /// When this attempt started (ms since 1970, Redis clock): the claim's time.
    public var startedAtMilliseconds: Int
    /// The job's unique key ("" for none), released when it succeeds.
    public var uniqueKey: String
}

/// The outcome of one attempt, as a worker reports it.
public enum AttemptOutcome: Sendable {
    /// The handler returned; the result as JSON text (empty for none).
    case success(result: String)
    /// The handler failed (or timed out); the error text is kept as the job's last error.
    case failure(error: String)
}

extension Broker {
    /// Blocks up to `timeoutSeconds` on the queues' wake lists (BRPOP); true if woken by new work.
    /// Runs on the caller's dedicated connection.
    /// With `worker`, also waits on the worker's own wake key, which ``interruptWait(worker:)`` pushes to.
    public func waitForWork(on connection: RedisConnection, queues: [String], worker: String? = nil, timeoutSeconds: Double) throws -> Bool
    {
        try waitForWake(on: connection, queues: queues, worker: worker, timeoutSeconds: timeoutSeconds) != nil
    }

    /// As ``waitForWork(on:queues:worker:timeoutSeconds:)``, but gives the wake list that fired (nil on
    /// timeout), so a caller that took a queue's wake token and will not claim can give it back with
    /// ``returnWake(_:)``.
    public func waitForWake(on connection: RedisConnection, queues: [String], worker: String? = nil, timeoutSeconds: Double) throws
        -> String?
    {
        let reply = try connection.send(
            wakeWait(queues: queues, worker: worker, timeoutSeconds: timeoutSeconds),
            timeoutMilliseconds: wakeWaitTimeout(connection, timeoutSeconds))
        _ = try reply.throwingServerError()
        return reply.array?.first?.string
    }

    /// `BRPOP <each queue's wake list> [<the worker's own>] <timeout>`: the first list in this order
    /// that holds a token is popped.
    private func wakeWait(queues: [String], worker: String?, timeoutSeconds: Double) -> [[UInt8]] {
        var command: [[UInt8]] = ["BRPOP".redisBytes]
        for queue in queues { command.append(keys.wake(queue).redisBytes) }
        if let worker { command.append(keys.workerWake(worker).redisBytes) }
        command.append(String(format: "%.3f", timeoutSeconds).redisBytes)
        return command
    }

    /// The reply timeout of a wait: its blocking time plus the connection's command timeout.
    private func wakeWaitTimeout(_ connection: RedisConnection, _ timeoutSeconds: Double) -> Int {
        Int(timeoutSeconds * 1000) + connection.configuration.commandTimeoutMilliseconds
    }

    /// Puts back a queue's wake token taken by ``waitForWake(on:queues:worker:timeoutSeconds:)`` that
    /// will not be followed by a claim (the worker is stopping). An enqueue into a list that already
    /// holds jobs leaves no token (Lua/enqueue-4.lua), so a token taken and dropped would leave those
    /// jobs to the next worker's poll. A worker's own wake key is not put back.
    public func returnWake(_ key: String) async throws {
        try await pool.withConnection { connection in try self.returnWake(key, on: connection) }
    }

    /// ``returnWake(_:)`` on the caller's connection (the worker's fetch thread).
    public func returnWake(_ key: String, on connection: RedisConnection) throws {
        guard isQueueWake(key) else { return }
        _ = try connection.send(["LPUSH".redisBytes, key.redisBytes, "1".redisBytes]).throwingServerError()
    }

    private func isQueueWake(_ key: String) -> Bool {
        key.hasPrefix(keys.prefix + "wake:") && !key.hasPrefix(keys.prefix + "wake:worker:")
    }

    /// Wakes a worker blocked in ``waitForWork(on:queues:worker:timeoutSeconds:)`` (used at shutdown).
    public func interruptWait(worker: String) async throws {
        try await pool.command("LPUSH", keys.workerWake(worker), "stop")
        try await pool.command("PEXPIRE", keys.workerWake(worker), 10_000)
    }

    /// Claims up to `max` queued jobs from `queues` in strict priority order (one script call).
    public func claim(
        on connection: RedisConnection, worker: String, leaseMilliseconds: Int, max: Int, queues: [String]
    ) throws -> [ClaimedJob] {
        let (keys, arguments) = claimCall(worker: worker, leaseMilliseconds: leaseMilliseconds, max: max, queues: queues)
        return try claimedJobs(try scripts.claim.run(on: connection, keys: keys, arguments: arguments))
    }

    /// Blocks in BRPOP on the queues' wake lists and `worker`'s own wake list for up to
    /// `timeoutSeconds`, then claims as ``claim(on:worker:leaseMilliseconds:max:queues:)`` does. Both go
    /// out in one write, so Redis runs the claim as soon as BRPOP returns (a wake token, a stop, or
    /// the timeout), without a round trip to the worker in between. A claim after a timeout is the
    /// poll that finds jobs whose token was lost.
    ///
    /// The claim runs whatever BRPOP answered, so its jobs are returned even when BRPOP's reply was
    /// an error (`CLIENT UNBLOCK … ERROR`, a wake key of another type): the caller must start them.
    /// The error is thrown only when nothing was claimed. And it runs even if this process is gone
    /// by then (a host that vanished without closing the connection): its jobs then wait out one
    /// lease, as those the vanished worker was running do, and the promoter requeues them.
    public func waitForWakeThenClaim(
        on connection: RedisConnection, worker: String, leaseMilliseconds: Int, max: Int, queues: [String], timeoutSeconds: Double
    ) throws -> [ClaimedJob] {
        let wait = wakeWait(queues: queues, worker: worker, timeoutSeconds: timeoutSeconds)
        let (keys, arguments) = claimCall(worker: worker, leaseMilliseconds: leaseMilliseconds, max: max, queues: queues)
        let replies = try scripts.claim.run(
            on: connection, after: wait, timeoutMilliseconds: wakeWaitTimeout(connection, timeoutSeconds), keys: keys,
            arguments: arguments)
        let jobs = try claimedJobs(replies.script)
        if jobs.isEmpty { _ = try replies.leading.throwingServerError() }
        return jobs
    }

    private func claimCall(
        worker: String, leaseMilliseconds: Int, max: Int, queues: [String]
    ) -> (keys: [[UInt8]], arguments: [[UInt8]]) {
        var arguments: [[UInt8]] = [
            keys.prefix.redisBytes, configuration.eventsHardMaxLength.redisBytes, worker.redisBytes,
            leaseMilliseconds.redisBytes, max.redisBytes,
        ]
        arguments.append(contentsOf: queues.map { $0.redisBytes })
        return ([keys.inflight, keys.stats, keys.events, keys.paused].map { $0.redisBytes }, arguments)
    }

    /// The claim script's reply: one row of 14 fields per job (Lua/claim-4.lua).
    private func claimedJobs(_ reply: RedisValue) throws -> [ClaimedJob] {
        let rows = reply.array ?? []
        var jobs: [ClaimedJob] = []
        jobs.reserveCapacity(rows.count)
        for row in rows {
            guard let fields = row.array, fields.count == 14 else { throw ConveyorError(.redis, "claim: unexpected row \(row)") }
            func text(_ index: Int) -> String { fields[index].string ?? "" }
            func number(_ index: Int) -> Int { fields[index].int ?? 0 }
            jobs.append(
                ClaimedJob(
                    id: text(0), token: text(1), type: text(2), queue: text(3),
                    priority: JobPriority(rawValue: text(4)) ?? .normal, payload: text(5), attempt: number(6),
                    maxAttempts: number(7), timeoutMilliseconds: number(8), enqueuedAtMilliseconds: number(9),
                    crashes: number(10), createdAtMilliseconds: number(11), startedAtMilliseconds: number(12),
                    uniqueKey: text(13)))
        }
        return jobs
    }

    /// Reports finished attempts: successes in one script call, failures in another.
    /// Returns each job's status (`ok`, `retrying`, `dead`, `stale`, `cancelled`) by id.
    public func acknowledge(
        on connection: RedisConnection, _ outcomes: [(job: ClaimedJob, outcome: AttemptOutcome)]
    ) throws -> [String: String] {
        var successes: [[UInt8]] = [
            keys.prefix.redisBytes, configuration.eventsHardMaxLength.redisBytes,
            configuration.keepFinishedMilliseconds.redisBytes,
        ]
        var failures: [[UInt8]] = [
            keys.prefix.redisBytes, configuration.eventsHardMaxLength.redisBytes, configuration.deadMax.redisBytes,
        ]
        var successIDs: [String] = []
        var failureIDs: [String] = []
        for (job, outcome) in outcomes {
            switch outcome {
            case .success(let result):
                successIDs.append(job.id)
                // What complete-3.lua would otherwise read from the hash before its fence (as claimed).
                successes.append(contentsOf: [
                    job.id.redisBytes, job.token.redisBytes, result.redisBytes, job.queue.redisBytes, job.type.redisBytes,
                    job.attempt.redisBytes, job.startedAtMilliseconds.redisBytes, job.uniqueKey.redisBytes,
                ])
            case .failure(let error):
                failureIDs.append(job.id)
                failures.append(contentsOf: [
                    job.id.redisBytes, job.token.redisBytes, String(error.prefix(4_096)).redisBytes,
                    String(Double.random(in: 0..<1)).redisBytes,
                ])
            }
        }
        var statuses: [String: String] = [:]
        if !successIDs.isEmpty {
            let reply = try scripts.complete.run(
                on: connection, keys: [keys.inflight, keys.stats, keys.events].map { $0.redisBytes }, arguments: successes)
            for (id, status) in zip(successIDs, reply.array ?? []) { statuses[id] = status.string ?? "stale" }
        }
        if !failureIDs.isEmpty {
            let reply = try scripts.fail.run(
                on: connection,
                keys: [keys.inflight, keys.stats, keys.events, keys.delayed, keys.dead, keys.promoterWake].map { $0.redisBytes },
                arguments: failures)
            for (id, status) in zip(failureIDs, reply.array ?? []) { statuses[id] = status.string ?? "stale" }
        }
        return statuses
    }

    /// Extends the leases of held jobs and refreshes the worker's registration.
    /// Returns the ids whose lock was lost and the ids cancelled while running.
    public func heartbeat(
        on connection: RedisConnection, worker: WorkerInfo, leaseMilliseconds: Int, held: [(id: String, token: String)]
    ) throws -> (lost: [String], cancelled: [String]) {
        let info = (try? JSONEncoder().encode(worker)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var arguments: [[UInt8]] = [
            keys.prefix.redisBytes, leaseMilliseconds.redisBytes, worker.id.redisBytes, info.redisBytes,
            Swift.max(leaseMilliseconds, 10_000).redisBytes,
        ]
        for (id, token) in held { arguments.append(contentsOf: [id.redisBytes, token.redisBytes]) }
        let reply = try scripts.heartbeat.run(
            on: connection, keys: [keys.inflight, keys.workers].map { $0.redisBytes }, arguments: arguments)
        let parts = reply.array ?? []
        let lost = parts.first?.array?.compactMap(\.string) ?? []
        let cancelled = parts.count > 1 ? parts[1].array?.compactMap(\.string) ?? [] : []
        return (lost, cancelled)
    }

    /// Gives held jobs back to their queues (graceful shutdown) and, with `worker`, unregisters it.
    public func requeue(on connection: RedisConnection, worker: String?, held: [(id: String, token: String)]) throws -> Int {
        var arguments: [[UInt8]] = [keys.prefix.redisBytes, configuration.eventsHardMaxLength.redisBytes, (worker ?? "").redisBytes]
        for (id, token) in held { arguments.append(contentsOf: [id.redisBytes, token.redisBytes]) }
        let reply = try scripts.requeue.run(
            on: connection, keys: [keys.inflight, keys.events, keys.workers].map { $0.redisBytes }, arguments: arguments)
        return reply.int ?? 0
    }

    /// Moves due delayed jobs to their lists. Returns how many moved and the wait until the next one
    /// is due (0: more are due now; nil: none waiting).
    public func promoteDue(batch: Int = 1_000) async throws -> (promoted: Int, nextDueMilliseconds: Int?) {
        let reply = try await scripts.promote.run(
            on: pool, keys: [keys.delayed, keys.events, keys.stats],
            arguments: [keys.prefix, configuration.eventsHardMaxLength, batch])
        let values = reply.array?.compactMap(\.int) ?? []
        guard values.count == 2 else { throw ConveyorError(.redis, "promote: unexpected reply \(reply)") }
        return (values[0], values[1] < 0 ? nil : values[1])
    }

    /// Requeues running jobs whose lease expired; quarantines repeat offenders to dead.
    public func requeueStalled(batch: Int = 1_000) async throws -> (requeued: Int, quarantined: Int, nextExpiryMilliseconds: Int?) {
        let reply = try await scripts.requeueStalled.run(
            on: pool, keys: [keys.inflight, keys.stats, keys.events, keys.dead, keys.promoterWake],
            arguments: [keys.prefix, configuration.eventsHardMaxLength, configuration.maxCrashes, batch, configuration.deadMax])
        let values = reply.array?.compactMap(\.int) ?? []
        guard values.count == 3 else { throw ConveyorError(.redis, "requeue-stalled: unexpected reply \(reply)") }
        return (values[0], values[1], values[2] < 0 ? nil : values[2])
    }
}
