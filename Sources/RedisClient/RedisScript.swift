import Synchronization

/// A Lua script run with EVALSHA: loaded with SCRIPT LOAD, and reloaded once when Redis answers
/// NOSCRIPT (after a restart or SCRIPT FLUSH).
public final class RedisScript: Sendable {
    /// The script's name, for errors and logs.
    public let name: String
    /// The Lua source.
    public let source: String
    private let sha = Mutex<[UInt8]?>(nil)

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    /// Loads the script into the server's cache (SCRIPT LOAD) and remembers its SHA1.
    public func load(on connection: RedisConnection) throws {
        let reply = try connection.send([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(source.utf8)])
        if case .error(let message) = reply { throw RedisError(.server, "loading \(name): \(message)") }
        guard case .bulk(let digest) = reply else { throw RedisError(.protocolError, "SCRIPT LOAD \(name): \(reply)") }
        sha.withLock { $0 = digest }
    }

    /// Runs the script on a connection the caller holds. Error replies raised by the script throw.
    public func run(on connection: RedisConnection, keys: [[UInt8]], arguments: [[UInt8]]) throws -> RedisValue {
        var attempt = 0
        while true {
            var digest = sha.withLock { $0 }
            if digest == nil {
                try load(on: connection)
                digest = sha.withLock { $0 }
            }
            var command: [[UInt8]] = [Array("EVALSHA".utf8), digest!, Array(String(keys.count).utf8)]
            command.reserveCapacity(3 + keys.count + arguments.count)
            command.append(contentsOf: keys)
            command.append(contentsOf: arguments)
            let reply = try connection.send(command)
            if case .error(let message) = reply {
                if message.hasPrefix("NOSCRIPT") && attempt == 0 {
                    attempt += 1
                    sha.withLock { $0 = nil }
                    continue
                }
                throw RedisError(.server, "\(name): \(message)")
            }
            return reply
        }
    }

    /// Runs the script on one of the pool's connections.
    public func run(on pool: RedisPool, keys: [any RedisArgument], arguments: [any RedisArgument]) async throws -> RedisValue {
        let keys = keys.map { $0.redisBytes }
        let arguments = arguments.map { $0.redisBytes }
        return try await pool.withConnection { connection in
            try self.run(on: connection, keys: keys, arguments: arguments)
        }
    }
}
