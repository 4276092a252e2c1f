import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Options of the promoter.
public struct PromoterOptions: Sendable {
    /// Jobs moved per script call.
    public var batch: Int
    /// The longest the promoter sleeps without looking (a guard against a lost wake-up; due jobs
    /// are not found by polling but by sleeping until their due time).
    public var maxSleepMilliseconds: Int
    /// How late a schedule's tick may be and still count as on time; later ticks (no promoter was
    /// running) follow the schedule's misfire policy.
    public var scheduleGraceMilliseconds: Int
    /// The most missed ticks one schedule runs after downtime under the `all` misfire policy.
    public var catchUpLimit: Int
    /// How often the event stream is trimmed (``Broker/trimEvents(group:)``), in milliseconds.
    public var trimIntervalMilliseconds: Int

    public init(
        batch: Int = 1_000, maxSleepMilliseconds: Int = 1_000, scheduleGraceMilliseconds: Int = 2_000, catchUpLimit: Int = 100,
        trimIntervalMilliseconds: Int = 1_000
    ) {
        self.batch = batch
        self.maxSleepMilliseconds = maxSleepMilliseconds
        self.scheduleGraceMilliseconds = scheduleGraceMilliseconds
        self.catchUpLimit = catchUpLimit
        self.trimIntervalMilliseconds = trimIntervalMilliseconds
    }
}

/// Moves due delayed and retrying jobs to their queues, requeues stalled jobs, fires due schedules,
/// and trims the event stream (about once a second, never below what the history writers still need).
///
/// It sleeps until the next due time or lease expiry; an enqueue or retry that is due earlier than
/// anything waiting pushes a token on `{ns}:promoter:wake`, which a dedicated connection waits on
/// with BRPOP, and wakes it at once. Every move is one atomic script, so any number of promoters
/// can run side by side; a schedule's tick is claimed atomically, so each tick fires once.
public final class Promoter: Service, Sendable {
    let broker: Broker
    let options: PromoterOptions
    let logger: Logger
    private let signal = WakeSignal()
    private let stopping = OneShotEvent()

    public init(broker: Broker, options: PromoterOptions = PromoterOptions(), logger: Logger = Logger(label: "conveyor.promoter")) {
        self.broker = broker
        self.options = options
        self.logger = logger
    }

    public func run() async throws {
        let lane = RedisPool(configuration: broker.pool.configuration, size: 1, name: "conveyor-promoter-wake")
        defer { lane.close() }
        logger.info("promoter started")
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen(lane: lane) }
                await self.loop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        logger.info("promoter stopped")
    }

    /// Asks the promoter to stop (the same as a graceful-shutdown signal).
    public func stop() {
        stopping.fire()
        signal.fire()
        // Ends the listener's BRPOP now; a spare token only makes another promoter look once.
        let broker = self.broker
        Task { try? await broker.pool.command("LPUSH", broker.keys.promoterWake, "1") }
    }

    private func loop() async {
        var failures = 0
        var lastTrim = ContinuousClock.now - .seconds(3_600)
        while !stopping.hasFired {
            var wait = options.maxSleepMilliseconds
            do {
                // Schedules first: their ticks are the most time-sensitive work here.
                let schedules = try await broker.fireDueSchedules(
                    graceMilliseconds: options.scheduleGraceMilliseconds, catchUpLimit: options.catchUpLimit)
                let promoted = try await broker.promoteDue(batch: options.batch)
                let stalled = try await broker.requeueStalled(batch: options.batch)
                failures = 0
                if stalled.requeued > 0 || stalled.quarantined > 0 {
                    logger.notice(
                        "requeued stalled jobs",
                        metadata: [
                            "requeued": .stringConvertible(stalled.requeued), "quarantined": .stringConvertible(stalled.quarantined),
                        ])
                }
                if ContinuousClock.now - lastTrim >= .milliseconds(options.trimIntervalMilliseconds) {
                    lastTrim = ContinuousClock.now
                    try await broker.trimEvents()
                }
                if let next = promoted.nextDueMilliseconds { wait = min(wait, next) }
                if let next = stalled.nextExpiryMilliseconds { wait = min(wait, next + 1) }
                if let next = schedules.nextDueMilliseconds { wait = min(wait, next) }
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("promoter cannot reach Redis, retrying", metadata: ["error": .string("\(error)")])
                }
                wait = min(2_000, 50 << min(failures, 6))
            }
            if wait > 0 { await signal.wait(milliseconds: wait) }
        }
    }

    /// Waits on the wake list on a connection of its own and wakes the loop.
    private func listen(lane: RedisPool) async {
        let key = broker.keys.promoterWake
        while !stopping.hasFired {
            do {
                let woke = try await lane.withConnection { connection -> Bool in
                    let reply = try connection.send(
                        ["BRPOP".redisBytes, key.redisBytes, "1".redisBytes],
                        timeoutMilliseconds: 1_000 + connection.configuration.commandTimeoutMilliseconds)
                    return !(try reply.throwingServerError()).isNull
                }
                if woke { signal.fire() }
            } catch {
                await pause(milliseconds: 500)
            }
        }
    }
}

/// A wake-up that a sleeper can wait for with a timeout; a fire while nobody waits is kept for the
/// next wait.
final class WakeSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?, generation: Int)>((false, nil, 0))

    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when fired or after `milliseconds`, whichever comes first.
    func wait(milliseconds: Int) async {
        let generation = state.withLock { state -> Int? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.generation += 1
            return state.generation
        }
        guard let generation else { return }
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(milliseconds))
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard state.generation == generation else { return nil }
                guard let waiter = state.waiter else {
                    state.generation += 1
                    return nil
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.pending || state.generation != generation {
                    state.pending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        timer.cancel()
    }
}
