import Conveyor
import ConveyorTestSupport
import Foundation
import Synchronization
import Testing

/// A job whose handler waits for `Gate.open`, ignoring cancellation (as a handler stuck in
/// uncancellable I/O would).
private struct Stubborn: JobParameters {
    static let jobType = "stubborn"
}

/// Holds the stubborn handlers until opened; counts the ones that returned.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>], returned: Int)>((false, [], 0))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
        state.withLock { $0.returned += 1 }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var returned: Int { state.withLock { $0.returned } }
}

@Suite("Worker slots")
struct WorkerSlotTests {
    @Test("a handler still running after its job was lost and claimed again by the same worker frees its slot when it returns")
    func displacedHandlerFreesItsSlot() async throws {
        let gate = Gate()
        let registry = testRegistry { registry in
            registry.register(Stubborn.self) { (_: Stubborn, _: JobContext) in await gate.wait() }
        }
        try await withBroker { broker in
            let options = WorkerOptions(concurrency: 2, leaseMilliseconds: 1_000)
            try await withWorker(broker, registry: registry, options: options) { _ in
                let id = try await broker.enqueue(EnqueueRequest(type: Stubborn.jobType)).id
                _ = try await waitForState(broker, id, .running)
                // The lease is lost behind the worker's back: its next heartbeat finds no lock and
                // cancels the handler, which does not return; the promoter requeues the job after the
                // lease, and the same worker (one slot free) claims it again.
                try await broker.pool.command("DEL", broker.keys.lock(id))
                try await eventually(timeout: 15, "the job was not claimed again") {
                    let job = try await broker.job(id)
                    return job?.state == .running && job?.crashes == 1
                }
                gate.open()
                _ = try await waitForState(broker, id, .succeeded)
                try await eventually(timeout: 5, "both handlers return") { gate.returned == 2 }
                // Both slots are free again: two new jobs run at the same time.
                let a = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":3000}"#)).id
                let b = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":3000}"#)).id
                try await eventually(timeout: 5, "two jobs did not run side by side: a slot leaked") {
                    let jobs = [try await broker.job(a), try await broker.job(b)]
                    return jobs.allSatisfy { $0?.state == .running }
                }
            }
        }
    }
}

/// Set once, read from any task.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

@Suite("Worker shutdown with Redis gone")
struct WorkerShutdownWithoutRedisTests {
    @Test("a worker whose acks cannot be sent (Redis gone) still stops: it gives up on them after a few tries")
    func stopsWithUnsentAcks() async throws {
        let redis = try await onThread { try TestRedis() }
        defer { Thread { redis.stop() }.start() }
        try await withBroker(redis: redis) { broker in
            let logs = CapturedLogs()
            let worker = Worker(
                broker: broker, registry: testRegistry(), options: WorkerOptions(concurrency: 2, gracePeriodMilliseconds: 5_000),
                logger: logs.logger)
            let stopped = Flag()
            let running = Task {
                try? await worker.run()
                stopped.set()
            }
            defer { running.cancel() }
            let id = try await broker.enqueue(EnqueueRequest(type: "sleep", payload: #"{"ms":1500}"#)).id
            _ = try await waitForState(broker, id, .running)
            // The job finishes with Redis gone: its ack fails and is retried.
            try await onThread { redis.stop() }
            try await Task.sleep(for: .milliseconds(2_500))
            // The case under test: the job finished after Redis went, so its ack is pending.
            #expect(logs.messages(.warning).contains { $0.contains("cannot acknowledge jobs") }, "\(logs.messages(.warning))")
            let clock = ContinuousClock()
            let stopping = clock.now
            worker.beginShutdown()
            try await eventually(timeout: 30, "the worker did not stop with its ack unsendable") { stopped.isSet }
            let took = clock.now - stopping
            // ackSecondsAtShutdown (6 s) of retries, then the requeue's five tries.
            #expect(took < .seconds(20), "took \(took)")
        }
    }
}
