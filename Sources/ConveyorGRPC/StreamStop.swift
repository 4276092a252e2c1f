import GRPCCore
import Synchronization

/// Ends the server's long-lived streams (`WatchEvents`, health `Watch`) when the gRPC server shuts
/// down: grpc-swift's graceful shutdown waits for running calls, and these never end by themselves.
public final class StreamStop: Sendable {
    private let state = Mutex<(stopped: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    /// Wakes every `wait()`, now and later.
    public func stop() {
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `stop()` was called.
    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Runs `body` until it ends or `stop()` is called (then `body`'s task is cancelled and
    /// `whenStopped` is thrown).
    func run(_ whenStopped: RPCError, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return false
            }
            group.addTask {
                await self.wait()
                return true
            }
            let stopped = try await group.next() ?? false
            group.cancelAll()
            if stopped { throw whenStopped }
        }
    }
}
