import Foundation
import Logging

/// A fixed set of Redis connections, each owned by a thread of its own.
///
/// hiredis blocks, so no Redis call ever runs on Swift's cooperative pool: `withConnection` queues
/// the closure, the first free connection thread runs it, and the caller's task resumes through a
/// continuation. Waiting for a free connection holds no thread. A pool of size 1 is the dedicated
/// lane a blocking consumer (BRPOP) needs.
public final class RedisPool: Sendable {
    private typealias Work = @Sendable (RedisConnection) -> Void

    public let configuration: RedisConfiguration
    public let size: Int
    private let queue = WorkQueue<Work>()

    /// Starts `size` connection threads; connections open lazily on first use.
    public init(configuration: RedisConfiguration, size: Int = 4, name: String = "redis") {
        self.configuration = configuration
        self.size = max(1, size)
        let queue = self.queue
        var threads: [Thread] = []
        for index in 0..<self.size {
            let thread = Thread {
                let connection = RedisConnection(configuration: configuration)
                while let work = queue.pop() {
                    work(connection)
                }
                connection.disconnect()
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            threads.append(thread)
        }
        for thread in threads { thread.start() }
    }

    deinit { queue.close() }

    /// Stops the connection threads after the work already queued; later calls fail with `.closed`.
    public func close() { queue.close() }

    /// Runs `body` with a connection on one of the pool's threads and returns its result.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.push { connection in
                do { continuation.resume(returning: try body(connection)) } catch { continuation.resume(throwing: error) }
            }
            if !accepted { continuation.resume(throwing: RedisError(.closed, "the Redis pool is closed")) }
        }
    }

    /// Sends one command. An error reply is thrown as `RedisError(.server, ...)`.
    @discardableResult
    public func command(_ arguments: [any RedisArgument]) async throws -> RedisValue {
        let encoded = arguments.map { $0.redisBytes }
        return try await withConnection { connection in
            try connection.send(encoded).throwingServerError()
        }
    }

    /// Sends one command given as words.
    @discardableResult
    public func command(_ arguments: any RedisArgument...) async throws -> RedisValue {
        try await command(arguments)
    }

    /// Sends the commands in one round trip; replies come back in order, error replies as `.error`.
    public func pipeline(_ commands: [[any RedisArgument]]) async throws -> [RedisValue] {
        let encoded = commands.map { $0.map { $0.redisBytes } }
        return try await withConnection { connection in
            try connection.pipeline(encoded)
        }
    }
}

extension RedisValue {
    /// Throws an error reply as `RedisError(.server, ...)`; any other reply passes through.
    public func throwingServerError() throws -> RedisValue {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }
}
