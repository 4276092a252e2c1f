import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Redis client over hiredis")
struct RedisClientTests {
    let pool = RedisPool(configuration: TestRedis.shared.configuration, size: 2)
    let prefix = "{\(uniqueNamespace("client"))}:"

    @Test("commands, typed replies and binary-safe arguments")
    func commands() async throws {
        defer { pool.close() }
        let binary: [UInt8] = [0, 1, 2, 255, 13, 10, 0]
        #expect(try await pool.command("SET", prefix + "b", binary).string == "OK")
        #expect(try await pool.command("GET", prefix + "b") == .bulk(binary))
        #expect(try await pool.command("GET", prefix + "missing").isNull)
        #expect(try await pool.command("INCRBY", prefix + "n", 41) == .integer(41))
        #expect(try await pool.command("RPUSH", prefix + "l", "a", "b").int == 2)
        #expect(try await pool.command("LRANGE", prefix + "l", 0, -1) == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
        await #expect(throws: RedisError.self) { try await pool.command("INCR", prefix + "l") }
    }

    @Test("a pipeline sends N commands and reads N replies in order, errors in place")
    func pipeline() async throws {
        defer { pool.close() }
        var commands: [[any RedisArgument]] = (0..<500).map { ["SET", prefix + "p\($0)", $0] }
        commands.append(["INCR", prefix + "p1"])
        commands.append(["LPUSH", prefix + "p2", "x"])
        let replies = try await pool.pipeline(commands)
        #expect(replies.count == 502)
        #expect(replies[499].string == "OK")
        #expect(replies[500] == .integer(2))
        if case .error(let message) = replies[501] {
            #expect(message.hasPrefix("WRONGTYPE"))
        } else {
            Issue.record("expected an error reply")
        }
    }

    @Test("scripts run with EVALSHA and reload once after SCRIPT FLUSH")
    func scriptReload() async throws {
        defer { pool.close() }
        let script = RedisScript(name: "echo-1", source: "return {KEYS[1], ARGV[1]}")
        #expect(try await script.run(on: pool, keys: [prefix + "k"], arguments: ["v"]).array?.compactMap(\.string) == [prefix + "k", "v"])
        try await pool.command("SCRIPT", "FLUSH")
        #expect(try await script.run(on: pool, keys: [prefix + "k"], arguments: ["w"]).array?.compactMap(\.string) == [prefix + "k", "w"])
        let broken = RedisScript(name: "broken-0", source: "return redis.call('NOPE')")
        await #expect(throws: RedisError.self) { try await broken.run(on: pool, keys: [], arguments: []) }
    }

    @Test("a script sent behind a blocking command runs when it returns; both replies come back; a deleted function is loaded again")
    func scriptAfterBlockingCommand() async throws {
        defer { pool.close() }
        let script = RedisScript(name: "echo-1", source: "return {KEYS[1], ARGV[1], redis.call('LLEN', KEYS[1])}")
        let list = prefix + "wake"
        func run(_ value: String) async throws -> (leading: RedisValue, script: RedisValue) {
            try await pool.withConnection { connection in
                try script.run(
                    on: connection, after: ["BRPOP", list, "0.2"].map { $0.redisBytes }, timeoutMilliseconds: 2_000,
                    keys: [list.redisBytes], arguments: [value.redisBytes])
            }
        }
        try await pool.command("LPUSH", list, "a", "b")
        let woken = try await run("v")
        #expect(woken.leading.array?.compactMap(\.string) == [list, "a"])
        // The script ran after BRPOP had popped: one element left.
        #expect(woken.script.array?.compactMap(\.string) == [list, "v", "1"])
        try await pool.command("DEL", list)
        let timedOut = try await run("w")
        #expect(timedOut.leading == .null)
        #expect(timedOut.script.array?.compactMap(\.string) == [list, "w", "0"])
        // (No SCRIPT FLUSH here: suites share this Redis and run in parallel. The EVALSHA reload is the
        // one of `run(on:keys:arguments:)`, tested above.)
        // As a function of a library deleted since: loaded again, and the call run again.
        let name = "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let library = RedisFunctionLibrary(
            name: name,
            code: "#!lua name=\(name)\nredis.register_function('\(name)_echo', function(keys, args) return {keys[1], args[1]} end)")
        let function = RedisScript(name: "echo-1", source: "return {KEYS[1], ARGV[1]}", library: library, functionName: name + "_echo")
        for value in ["x", "y"] {
            let replies = try await pool.withConnection { connection in
                try function.run(
                    on: connection, after: ["PING".redisBytes], timeoutMilliseconds: 2_000, keys: [list.redisBytes],
                    arguments: [value.redisBytes])
            }
            #expect(replies.leading.string == "PONG" && replies.script.array?.compactMap(\.string) == [list, value])
            #expect(library.state == .loaded)
            try await pool.command("FUNCTION", "DELETE", name)
        }
        let broken = RedisScript(name: "broken-0", source: "return redis.call('NOPE')")
        await #expect(throws: RedisError.self) {
            try await pool.withConnection { connection in
                try broken.run(on: connection, after: ["PING".redisBytes], timeoutMilliseconds: 2_000, keys: [], arguments: [])
            }
        }
    }

    @Test("unix sockets, AUTH and SELECT from the URL")
    func socketAuthAndDatabase() async throws {
        defer { pool.close() }
        let socketPool = RedisPool(configuration: try RedisConfiguration(url: "unix://\(TestRedis.shared.socketPath)?db=3"), size: 1)
        defer { socketPool.close() }
        try await socketPool.command("SET", prefix + "db3", "yes")
        #expect(try await socketPool.command("GET", prefix + "db3").string == "yes")
        #expect(try await pool.command("GET", prefix + "db3").isNull)

        let secured = try await onThread { try TestRedis(password: "s3cret") }
        defer { Thread { secured.stop() }.start() }
        let good = RedisPool(configuration: try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(secured.port)/2"), size: 1)
        defer { good.close() }
        #expect(try await good.command("PING").string == "PONG")
        let bad = RedisPool(configuration: try RedisConfiguration(url: "redis://:wrong@127.0.0.1:\(secured.port)"), size: 1)
        defer { bad.close() }
        await #expect(throws: RedisError.self) { try await bad.command("PING") }
    }

    @Test("a refused connection is an error, not a crash; the pool reconnects after a restart")
    func reconnect() async throws {
        defer { pool.close() }
        let server = try await onThread { try TestRedis() }
        let client = RedisPool(configuration: server.configuration, size: 1)
        defer {
            client.close()
            Thread { server.stop() }.start()
        }
        try await client.command("SET", "k", "before")
        try await onThread { server.stop() }
        let error = await #expect(throws: RedisError.self) { try await client.command("GET", "k") }
        #expect(error?.isConnectionProblem == true)
        try await onThread { try server.start() }
        try await eventually(timeout: 10) { (try? await client.command("GET", "k"))?.string == "before" }
    }

    @Test("command timeouts fail the call and drop the connection, which reconnects")
    func timeouts() async throws {
        defer { pool.close() }
        var configuration = TestRedis.shared.configuration
        configuration.commandTimeoutMilliseconds = 500
        let client = RedisPool(configuration: configuration, size: 1)
        defer { client.close() }
        let error = await #expect(throws: RedisError.self) {
            try await client.command("BLPOP", prefix + "never", 3)
        }
        #expect(error?.code == .timeout)
        try await eventually(timeout: 10) { (try? await client.command("PING"))?.string == "PONG" }
    }
}
