import Synchronization

/// A Lua function library loaded with FUNCTION LOAD (Redis 7.0+): shared helpers are defined once,
/// when the library loads, instead of on every call as a script's chunk is (measured: ~1 µs of Redis
/// CPU per call for the broker's helpers), and functions survive restarts and failovers with the
/// data (RDB/AOF, replication), where the script cache does not.
///
/// `state` starts unknown; the first ``RedisScript`` call loads the library. A server without the
/// FUNCTION command (before 7.0) marks it unsupported and every script runs with EVALSHA instead.
public final class RedisFunctionLibrary: Sendable {
    /// What a server made of the library.
    public enum State: Sendable, Equatable {
        case unknown, loaded, unsupported
    }

    /// The library's name (`#!lua name=...`); function names start with it.
    public let name: String
    /// The library's code, shebang line first.
    public let code: String
    private let currentState = Mutex<State>(.unknown)

    public init(name: String, code: String) {
        self.name = name
        self.code = code
    }

    public var state: State { currentState.withLock { $0 } }

    /// Loads the library (FUNCTION LOAD REPLACE: loading the same code again is harmless). On a
    /// server without functions, or a user whose ACL forbids FUNCTION (NOPERM), marks the library
    /// unsupported instead of throwing: the scripts then run with EVALSHA.
    public func load(on connection: RedisConnection) throws {
        let reply = try connection.send([Array("FUNCTION".utf8), Array("LOAD".utf8), Array("REPLACE".utf8), Array(code.utf8)])
        if case .error(let message) = reply {
            if message.lowercased().contains("unknown command") || message.hasPrefix("NOPERM") {
                currentState.withLock { $0 = .unsupported }
                return
            }
            throw RedisError(.server, "loading function library \(name): \(message)")
        }
        currentState.withLock { $0 = .loaded }
    }
}

/// A Lua script: run as a function of a ``RedisFunctionLibrary`` with FCALL when the library is
/// given and the server has functions, else with EVALSHA (loaded with SCRIPT LOAD). Either way it is
/// reloaded once when Redis no longer knows it (a restart without persistence, FUNCTION FLUSH,
/// SCRIPT FLUSH: "Function not found" or NOSCRIPT).
///
/// The name ends with the number of keys the script takes (`claim-4`); a call with another number
/// of keys throws, since Redis would pass the surplus as arguments or the missing ones as nothing.
public final class RedisScript: Sendable {
    /// The script's name, for errors and logs.
    public let name: String
    /// The Lua source, as run with EVALSHA.
    public let source: String
    /// The library holding this script as a function, and the function's name.
    public let library: RedisFunctionLibrary?
    public let functionName: String?
    /// The number of keys the name declares; nil when the name ends with no number.
    public let keyCount: Int?
    private let sha = Mutex<[UInt8]?>(nil)

    public init(name: String, source: String, library: RedisFunctionLibrary? = nil, functionName: String? = nil) {
        self.name = name
        self.source = source
        self.library = library
        self.functionName = functionName
        self.keyCount = name.split(separator: "-").last.flatMap { Int($0) }
    }

    /// Prepares the script on the server: loads its library, or the script itself (SCRIPT LOAD)
    /// when there is no library or the server has no functions.
    /// Scripts of one library share the load: once it is loaded, this does nothing (a server that
    /// lost it since answers "Function not found", and ``run(on:keys:arguments:)`` reloads it).
    public func load(on connection: RedisConnection) throws {
        if let library, library.state != .unsupported {
            if library.state == .unknown { try library.load(on: connection) }
            if library.state == .loaded { return }
        }
        try loadScript(on: connection)
    }

    /// SCRIPT LOAD; returns the digest (also kept for the next calls).
    @discardableResult
    private func loadScript(on connection: RedisConnection) throws -> [UInt8] {
        let reply = try connection.send([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(source.utf8)])
        if case .error(let message) = reply { throw RedisError(.server, "loading \(name): \(message)") }
        guard case .bulk(let digest) = reply else { throw RedisError(.protocolError, "SCRIPT LOAD \(name): \(reply)") }
        sha.withLock { $0 = digest }
        return digest
    }

    /// Runs the script on a connection the caller holds. Error replies raised by the script throw.
    public func run(on connection: RedisConnection, keys: [[UInt8]], arguments: [[UInt8]]) throws -> RedisValue {
        if let keyCount, keys.count != keyCount {
            throw RedisError(.protocolError, "\(name) takes \(keyCount) keys, called with \(keys.count)")
        }
        if let library, let functionName, library.state != .unsupported {
            if library.state == .unknown { try library.load(on: connection) }
            if library.state == .loaded {
                return try runFunction(functionName, library: library, on: connection, keys: keys, arguments: arguments)
            }
        }
        return try runScript(on: connection, keys: keys, arguments: arguments)
    }

    /// Sends `leading` (a blocking command such as BRPOP) and this script in one write, and returns
    /// both replies: Redis runs the script the moment `leading` returns, with no round trip to the
    /// client in between (commands of one connection run in order, so the script waits behind the
    /// blocked command). `timeoutMilliseconds` is the reply timeout, as ``RedisConnection/send(_:timeoutMilliseconds:)``
    /// takes it. An error reply of `leading` is returned, not thrown; one of the script throws as
    /// ``run(on:keys:arguments:)``'s do, after one reload and rerun when Redis no longer knew it.
    public func run(
        on connection: RedisConnection, after leading: [[UInt8]], timeoutMilliseconds: Int, keys: [[UInt8]], arguments: [[UInt8]]
    ) throws -> (leading: RedisValue, script: RedisValue) {
        if let keyCount, keys.count != keyCount {
            throw RedisError(.protocolError, "\(name) takes \(keyCount) keys, called with \(keys.count)")
        }
        let command: [[UInt8]]
        if let library, library.state == .unknown { try library.load(on: connection) }
        if let library, let functionName, library.state == .loaded {
            command = Self.call("FCALL", Array(functionName.utf8), keys: keys, arguments: arguments)
        } else {
            command = Self.call("EVALSHA", try sha.withLock { $0 } ?? loadScript(on: connection), keys: keys, arguments: arguments)
        }
        let replies = try connection.pipeline([leading, command], timeoutMilliseconds: timeoutMilliseconds)
        if case .error(let message) = replies[1] {
            if message.contains("Function not found") || message.hasPrefix("NOSCRIPT") {
                return (replies[0], try run(on: connection, keys: keys, arguments: arguments))
            }
            throw RedisError(.server, "\(name): \(message)")
        }
        return (replies[0], replies[1])
    }

    /// `FCALL <function> <numkeys> keys… arguments…` or `EVALSHA <digest> <numkeys> …`.
    private static func call(_ verb: String, _ target: [UInt8], keys: [[UInt8]], arguments: [[UInt8]]) -> [[UInt8]] {
        var command: [[UInt8]] = [Array(verb.utf8), target, Array(String(keys.count).utf8)]
        command.reserveCapacity(3 + keys.count + arguments.count)
        command.append(contentsOf: keys)
        command.append(contentsOf: arguments)
        return command
    }

    private func runFunction(
        _ function: String, library: RedisFunctionLibrary, on connection: RedisConnection, keys: [[UInt8]], arguments: [[UInt8]]
    ) throws -> RedisValue {
        let command = Self.call("FCALL", Array(function.utf8), keys: keys, arguments: arguments)
        var attempt = 0
        while true {
            let reply = try connection.send(command)
            if case .error(let message) = reply {
                if message.contains("Function not found") && attempt == 0 {
                    attempt += 1
                    try library.load(on: connection)
                    continue
                }
                throw RedisError(.server, "\(name): \(message)")
            }
            return reply
        }
    }

    private func runScript(on connection: RedisConnection, keys: [[UInt8]], arguments: [[UInt8]]) throws -> RedisValue {
        var attempt = 0
        while true {
            let digest = try sha.withLock { $0 } ?? loadScript(on: connection)
            let reply = try connection.send(Self.call("EVALSHA", digest, keys: keys, arguments: arguments))
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
