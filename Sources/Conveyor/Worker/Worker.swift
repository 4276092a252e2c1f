import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// A worker process's consumer: claims jobs from its queues, runs their handlers concurrently, and
/// reports each attempt, until a graceful shutdown.
///
/// Threads: one dedicated Redis connection and thread waits in BRPOP on the queues' wake lists and
/// claims batches of jobs with one script call; handlers run as Swift tasks; finished attempts are
/// acknowledged in batches (one script call for all the successes ready at that moment, one for the
/// failures), so a busy worker makes a few round trips per batch of jobs, not per job.
public final class Worker: Service, Sendable {
    public let id: String
    public let options: WorkerOptions
    let broker: Broker
    let registry: JobRegistry
    let logger: Logger
    private let state = Mutex(State())
    private let acksDrained = OneShotEvent()
    /// Wakes the fetch thread when a slot frees or the worker stops. Signalled only while
    /// `State.fetchWaiting` (then cleared), so it never counts more than the one wait it answers; a
    /// signal given before that wait begins is kept by the semaphore, so none is lost.
    private let slotFreed = DispatchSemaphore(value: 0)
    private let deadlineAdded = WakeSignal()
    /// When the watchdog plans to look next; a job due earlier wakes it.
    private let watchdogWake = Mutex(ContinuousClock.now)
    private let stopped = OneShotEvent()
    /// Fired to end the heartbeat loop, and by the loop once it has ended (no heartbeat in flight).
    private let stopHeartbeats = OneShotEvent()
    private let heartbeatsEnded = OneShotEvent()
    private let startedAt = Date()
    private let host = ProcessInfo.processInfo.hostName

    /// Why a running job's attempt ended other than by its handler returning.
    enum Fate: Sendable { case normal, timedOut, cancelled, lost, abandoned }

    struct Running: Sendable {
        var job: ClaimedJob
        var task: Task<Void, Never>?
        var deadline: ContinuousClock.Instant?
        var fate: Fate = .normal
        /// True while the job occupies a concurrency slot (its handler has not been let go).
        var holdsSlot = true
    }

    struct State: Sendable {
        var running: [String: Running] = [:]
        var acks: [(job: ClaimedJob, outcome: AttemptOutcome)] = []
        var busy = 0
        var stopping = false
        var acksClosed = false
        /// When acks were closed (the shutdown's last ack calls have until then + ackSecondsAtShutdown).
        var acksClosedAt: ContinuousClock.Instant?
        /// True while the fetch thread waits in `slotFreed` for a free slot (or the stop).
        var fetchWaiting = false
        /// Tokens of attempts whose handler still holds a slot after a new claim of the same job
        /// replaced their entry in `running` (see `start`).
        var displacedSlots: Set<String> = []
        var ackWaiter: CheckedContinuation<Void, Never>?
        var processed = 0

        /// Whether the fetch thread waits for a slot; clears the flag (the caller signals `slotFreed`).
        mutating func takeFetchWaiter() -> Bool {
            defer { fetchWaiting = false }
            return fetchWaiting
        }
    }

    public init(
        broker: Broker, registry: JobRegistry, options: WorkerOptions = WorkerOptions(), logger: Logger = Logger(label: "conveyor.worker")
    ) {
        self.broker = broker
        self.registry = registry
        self.options = options
        self.id = options.id ?? "\(host):\(getpid()):\(UInt32.random(in: 0...UInt32.max) % 0xFFFF)"
        var logger = logger
        logger[metadataKey: "worker"] = .string(self.id)
        self.logger = logger
    }

    /// Attempts this worker acknowledged so far.
    public var processedCount: Int { state.withLock { $0.processed } }

    /// Starts stopping: no more fetching; running jobs get the grace period.
    public func beginShutdown() {
        let wake = state.withLock { state in
            state.stopping = true
            return state.takeFetchWaiter()
        }
        if wake { slotFreed.signal() }
        Task { try? await broker.interruptWait(worker: id) }
    }

    public func run() async throws {
        try options.validate()
        for schedule in options.schedules { try await broker.upsertSchedule(schedule) }
        let lane = RedisPool(configuration: broker.pool.configuration, size: 1, name: "conveyor-fetch")
        defer { lane.close() }
        logger.info(
            "worker started",
            metadata: ["queues": .string(options.queues.joined(separator: ",")), "concurrency": .stringConvertible(options.concurrency)])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.heartbeatLoop() }
                group.addTask { await self.ackLoop() }
                group.addTask { await self.watchdogLoop() }
                await self.fetchLoop(lane: lane)
                await self.finishRunning()
                self.stopped.fire()
                self.deadlineAdded.fire()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        logger.info("worker stopped", metadata: ["processed": .stringConvertible(processedCount)])
    }

    // MARK: fetching

    /// Runs the fetch loop on the lane's own thread for the worker's whole life: it waits for free
    /// slots there too, so a freed slot reaches the next claim without a hop through Swift's
    /// cooperative pool and back (README, "What limits processing": at concurrency 10, 0.6 fewer
    /// context switches and ~8 µs less worker CPU per job). The thread does not see task
    /// cancellation, so cancelling the worker's task begins its shutdown.
    private func fetchLoop(lane: RedisPool) async {
        do {
            try await withTaskCancellationHandler {
                try await lane.withConnection { connection in self.fetch(on: connection) }
            } onCancel: {
                self.beginShutdown()
            }
        } catch {
            // Only if the lane was closed (it is closed after this returns): nothing fetches any more.
            logger.error("cannot fetch jobs: the fetch lane is closed; stopping", metadata: ["error": .string("\(error)")])
            beginShutdown()
        }
    }

    /// Claims jobs for free slots until the worker stops: claim at once when jobs wait, else block in
    /// BRPOP on the wake lists with the next claim sent in the same write. Handlers start from this
    /// thread as soon as the claim returns. Any error is retried with backoff (100 ms doubling to 2 s).
    private func fetch(on connection: RedisConnection) {
        var failures = 0
        let queues = options.queues
        let lease = options.leaseMilliseconds
        while let free = waitForSlot() {
            let max = min(free, options.claimBatch)
            do {
                var jobs = try broker.claim(on: connection, worker: id, leaseMilliseconds: lease, max: max, queues: queues)
                if jobs.isEmpty && !isStopping {
                    // Blocks until a wake token, the stop, or the timeout; the claim that follows runs
                    // in Redis at once. Jobs it claims while the worker begins to stop run within the
                    // grace period, as those of a claim in flight at the stop do.
                    jobs = try broker.waitForWakeThenClaim(
                        on: connection, worker: id, leaseMilliseconds: lease, max: max, queues: queues,
                        timeoutSeconds: options.blockSeconds)
                }
                for job in jobs { start(job) }
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("cannot fetch jobs, retrying", metadata: ["error": .string("\(error)")])
                }
                sleepUnlessStopping(milliseconds: min(2_000, 50 << min(failures, 6)))
            }
        }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    /// Blocks the fetch thread until at least one slot is free; returns how many, or nil once stopping.
    private func waitForSlot() -> Int? {
        while true {
            let free = state.withLock { state -> Int? in
                if state.stopping { return 0 }
                let free = options.concurrency - state.busy
                if free > 0 { return free }
                state.fetchWaiting = true
                return nil
            }
            if let free { return free > 0 ? free : nil }
            slotFreed.wait()
        }
    }

    /// Sleeps the fetch thread for `milliseconds`, in steps of 50 ms so a stop ends it early.
    private func sleepUnlessStopping(milliseconds: Int) {
        var left = milliseconds
        while left > 0 && !isStopping {
            usleep(useconds_t(min(left, 50) * 1_000))
            left -= 50
        }
    }

    // MARK: running

    private func start(_ job: ClaimedJob) {
        let deadline = job.timeoutMilliseconds > 0 ? ContinuousClock.now.advanced(by: .milliseconds(job.timeoutMilliseconds)) : nil
        state.withLock { state in
            state.busy += 1
            // The same job claimed again while an earlier attempt's handler still runs here (its
            // lease was lost and it ignored the cancellation): that handler keeps its slot until it
            // returns, and `finish` frees it by its token.
            if let earlier = state.running[job.id], earlier.holdsSlot { state.displacedSlots.insert(earlier.job.token) }
            state.running[job.id] = Running(job: job, deadline: deadline)
        }
        if let deadline, watchdogWake.withLock({ deadline < $0 }) { deadlineAdded.fire() }
        let task = Task { await self.execute(job) }
        state.withLock { state in
            if state.running[job.id] != nil, state.running[job.id]?.task == nil { state.running[job.id]?.task = task }
        }
        if state.withLock({ $0.running[job.id]?.fate ?? .normal }) != .normal { task.cancel() }
    }

    private func execute(_ job: ClaimedJob) async {
        var logger = self.logger
        logger[metadataKey: "job"] = .string(job.id)
        logger[metadataKey: "type"] = .string(job.type)
        let context = JobContext(
            id: job.id, type: job.type, queue: job.queue, priority: job.priority, attempt: job.attempt,
            maxAttempts: job.maxAttempts, workerID: id, logger: logger)
        let outcome: AttemptOutcome
        if let handler = registry.handler(for: job.type) {
            do {
                outcome = .success(result: try await handler(job.payload, context))
            } catch {
                outcome = .failure(error: Self.describe(error))
            }
        } else {
            outcome = .failure(error: "unknown job type '\(job.type)': this worker handles \(registry.types.joined(separator: ", "))")
        }
        finish(job, outcome)
    }

    static func describe(_ error: any Error) -> String {
        if error is CancellationError { return "cancelled" }
        if let error = error as? ConveyorError { return error.message }
        if let error = error as? any LocalizedError, let text = error.errorDescription { return text }
        return String(describing: error)
    }

    /// Records a handler's end: queues its ack unless the attempt was already settled another way.
    private func finish(_ job: ClaimedJob, _ outcome: AttemptOutcome) {
        let (wakeFetch, ackWaiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard var running = state.running[job.id], running.job.token == job.token else {
                guard state.displacedSlots.remove(job.token) != nil else { return (false, nil) }
                state.busy -= 1
                return (state.takeFetchWaiter(), nil)
            }
            var slot = false
            if running.holdsSlot {
                running.holdsSlot = false
                state.busy -= 1
                slot = state.takeFetchWaiter()
            }
            var ack: CheckedContinuation<Void, Never>?
            switch running.fate {
            case .normal, .cancelled:
                state.running[job.id] = running
                state.acks.append((job, running.fate == .cancelled ? .failure(error: "cancelled") : outcome))
                ack = state.ackWaiter
                state.ackWaiter = nil
            case .lost:
                state.running[job.id] = nil
            case .timedOut, .abandoned:
                state.running[job.id] = running
            }
            return (slot, ack)
        }
        if wakeFetch { slotFreed.signal() }
        ackWaiter?.resume()
    }

    // MARK: acknowledging

    private func nextAcks() async -> [(job: ClaimedJob, outcome: AttemptOutcome)]? {
        while true {
            let taken = state.withLock { state -> [(job: ClaimedJob, outcome: AttemptOutcome)]? in
                if !state.acks.isEmpty {
                    let batch = state.acks
                    state.acks = []
                    return batch
                }
                return state.acksClosed ? nil : []
            }
            guard let taken else { return nil }
            if !taken.isEmpty { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.acks.isEmpty || state.acksClosed { return true }
                    state.ackWaiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// How long a stopping worker keeps retrying its unsent acks once its handlers are done (or
    /// abandoned): longer than a connection's longest reconnect backoff (5 s), so at least one try
    /// reaches a Redis that is back.
    static let ackSecondsAtShutdown = 6

    /// Sleeps for `milliseconds` even in a cancelled task (`Task.sleep` returns at once there): the
    /// shutdown's waits and retries must keep their pace when the worker's task was cancelled.
    private func nap(milliseconds: Int) async {
        await Task.detached { try? await Task.sleep(for: .milliseconds(milliseconds)) }.value
    }

    private func ackLoop() async {
        var failures = 0
        let lingerBelow = min(options.claimBatch, options.concurrency) / 2
        while var taken = await nextAcks() {
            if taken.count < lingerBelow, options.ackLingerMicroseconds > 0, !isStopping {
                try? await Task.sleep(for: .microseconds(options.ackLingerMicroseconds))
                taken += state.withLock { state in
                    defer { state.acks = [] }
                    return state.acks
                }
            }
            let batch = taken
            do {
                let statuses = try await broker.pool.withConnection { connection in
                    try self.broker.acknowledge(on: connection, batch)
                }
                failures = 0
                state.withLock { state in
                    for (job, _) in batch where state.running[job.id]?.job.token == job.token {
                        state.running[job.id] = nil
                    }
                    state.processed += batch.count
                }
                for (id, status) in statuses where status == "stale" {
                    logger.warning("attempt not recorded: the job's lease was lost to another worker", metadata: ["job": .string(id)])
                }
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning(
                        "cannot acknowledge jobs, retrying",
                        metadata: ["error": .string("\(error)"), "jobs": .stringConvertible(batch.count)])
                }
                // Stopping, and still failing ackSecondsAtShutdown after the last handler was done:
                // give up rather than never exit (a pod would wait for its SIGKILL). Those jobs keep
                // their leases: the requeue at the end of the shutdown gives them back if Redis
                // answers again, else the promoter requeues them once the leases expire (a crash,
                // not an attempt). So they run again: at least once, never lost.
                let abandoned = state.withLock { state -> Int? in
                    guard let closedAt = state.acksClosedAt, ContinuousClock.now - closedAt >= .seconds(Self.ackSecondsAtShutdown) else {
                        let kept = batch.filter {
                            state.running[$0.job.id]?.job.token == $0.job.token && state.running[$0.job.id]?.fate != .lost
                        }
                        state.acks.insert(contentsOf: kept, at: 0)
                        return nil
                    }
                    defer { state.acks = [] }
                    return batch.count + state.acks.count
                }
                if let abandoned {
                    logger.error(
                        "cannot acknowledge finished jobs while stopping; giving up: they run again once their leases expire",
                        metadata: ["error": .string("\(error)"), "jobs": .stringConvertible(abandoned)])
                    continue
                }
                await nap(milliseconds: min(2_000, 50 << min(failures, 6)))
            }
        }
        acksDrained.fire()
    }

    // MARK: leases, cancellations, timeouts

    private var workerInfo: WorkerInfo {
        let running = state.withLock { Array($0.running.keys) }
        return WorkerInfo(
            id: id, host: host, pid: Int(getpid()), queues: options.queues,
            concurrency: options.concurrency, running: running.sorted(), startedAt: startedAt.timeIntervalSince1970,
            heartbeatAt: Date().timeIntervalSince1970)
    }

    private func heartbeatLoop() async {
        let interval = options.heartbeatMilliseconds ?? min(1_000, options.leaseMilliseconds / 3)
        defer { heartbeatsEnded.fire() }
        while !stopHeartbeats.hasFired {
            let held = state.withLock { state in
                state.running.values.filter { $0.fate != .lost }.map { (id: $0.job.id, token: $0.job.token) }
            }
            let info = workerInfo
            do {
                let (lost, cancelled) = try await broker.pool.withConnection { connection in
                    try self.broker.heartbeat(on: connection, worker: info, leaseMilliseconds: self.options.leaseMilliseconds, held: held)
                }
                settle(lost, as: .lost)
                settle(cancelled, as: .cancelled)
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": .string("\(error)")])
            }
            await sleepUntilHeartbeatsStop(milliseconds: interval)
        }
    }

    private func sleepUntilHeartbeatsStop(milliseconds: Int) async {
        var left = milliseconds
        while left > 0 && !stopHeartbeats.hasFired {
            await nap(milliseconds: min(left, 100))
            left -= 100
        }
    }

    /// Cancels the handlers of jobs that were lost or cancelled; drops acks that would be refused.
    private func settle(_ ids: [String], as fate: Fate) {
        guard !ids.isEmpty else { return }
        let (reported, tasks) = state.withLock { state -> ([String], [Task<Void, Never>]) in
            var reported: [String] = []
            var tasks: [Task<Void, Never>] = []
            for id in ids {
                guard var running = state.running[id], running.fate == .normal else { continue }
                running.fate = fate
                if fate == .lost {
                    let queued = state.acks.count
                    state.acks.removeAll { $0.job.id == id }
                    if !running.holdsSlot {
                        state.running[id] = nil
                        // The handler returned. If its ack was still queued here, the lease really was
                        // lost; if not, the ack crossed this heartbeat (its script released the lock a
                        // moment before) and nothing was lost.
                        if state.acks.count < queued { reported.append(id) }
                        continue
                    }
                }
                reported.append(id)
                if let task = running.task { tasks.append(task) }
                state.running[id] = running
            }
            return (reported, tasks)
        }
        if !reported.isEmpty {
            logger.info(
                fate == .lost ? "lease lost, handler cancelled" : "job cancelled while running, handler cancelled",
                metadata: ["jobs": .string(reported.joined(separator: ","))])
        }
        for task in tasks { task.cancel() }
    }

    /// Fails attempts that run past their timeout. Sleeps until the earliest deadline (at most 1 s),
    /// woken early when a job with a deadline starts.
    private func watchdogLoop() async {
        while !stopped.hasFired {
            let earliest = state.withLock { state in
                state.running.values.lazy.filter { $0.fate == .normal && $0.holdsSlot }.compactMap(\.deadline).min()
            }
            var wait = 1_000
            if let earliest {
                let left = earliest - ContinuousClock.now
                wait = max(0, min(wait, Int(left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000) + 1))
            }
            watchdogWake.withLock { $0 = ContinuousClock.now.advanced(by: .milliseconds(wait)) }
            if wait > 0 { await deadlineAdded.wait(milliseconds: wait) }
            let now = ContinuousClock.now
            let (expired, wakeFetch, ackWaiter) = state.withLock {
                state -> ([Task<Void, Never>], Bool, CheckedContinuation<Void, Never>?) in
                var tasks: [Task<Void, Never>] = []
                var freed = false
                for (id, running) in state.running where running.fate == .normal && running.holdsSlot {
                    guard let deadline = running.deadline, deadline <= now else { continue }
                    var updated = running
                    updated.fate = .timedOut
                    updated.holdsSlot = false
                    state.running[id] = updated
                    state.busy -= 1
                    freed = true
                    state.acks.append((running.job, .failure(error: "timed out after \(running.job.timeoutMilliseconds)ms")))
                    if let task = running.task { tasks.append(task) }
                }
                guard freed else { return (tasks, false, nil) }
                defer { state.ackWaiter = nil }
                return (tasks, state.takeFetchWaiter(), state.ackWaiter)
            }
            for task in expired { task.cancel() }
            if wakeFetch { slotFreed.signal() }
            ackWaiter?.resume()
        }
    }

    // MARK: shutdown

    /// After fetching stopped: waits up to the grace period for running handlers, cancels the rest,
    /// flushes acks, gives unfinished jobs back to their queues and unregisters.
    private func finishRunning() async {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(options.gracePeriodMilliseconds))
        while state.withLock({ $0.busy }) > 0 && ContinuousClock.now < deadline {
            await nap(milliseconds: 10)
        }
        let abandoned = state.withLock { state -> [Task<Void, Never>] in
            var tasks: [Task<Void, Never>] = []
            for (id, running) in state.running where running.holdsSlot && running.fate == .normal {
                state.running[id]?.fate = .abandoned
                if let task = running.task { tasks.append(task) }
            }
            return tasks
        }
        for task in abandoned { task.cancel() }
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.acksClosed = true
            state.acksClosedAt = .now
            defer { state.ackWaiter = nil }
            return state.ackWaiter
        }
        waiter?.resume()
        await acksDrained.wait()
        // No heartbeat may run after the requeue below unregisters the worker: it would register
        // it again, and a stopped worker would be listed as live until its registration expired.
        stopHeartbeats.fire()
        await heartbeatsEnded.wait()
        let held = state.withLock { state in
            state.running.values.filter { $0.fate == .abandoned || $0.fate == .normal }.map { (id: $0.job.id, token: $0.job.token) }
        }
        for attempt in 1...5 {
            do {
                let given = try await broker.pool.withConnection { connection in
                    try self.broker.requeue(on: connection, worker: self.id, held: held)
                }
                if given > 0 {
                    logger.info("requeued jobs that did not finish within the grace period", metadata: ["jobs": .stringConvertible(given)])
                }
                break
            } catch {
                logger.warning(
                    "cannot requeue on shutdown (their leases will expire and the promoter will requeue them)",
                    metadata: ["error": .string("\(error)"), "attempt": .stringConvertible(attempt)])
                await nap(milliseconds: 200)
            }
        }
    }
}
