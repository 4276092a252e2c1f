import CHiredis
import Foundation

/// One synchronous connection to Redis over hiredis.
///
/// Not thread-safe and blocking: it lives on one thread of a ``RedisPool`` and is only handed to
/// closures that the pool runs there. After a dropped connection it reconnects on next use, with
/// backoff between failed attempts (100 ms doubling to 5 s), so a Redis restart never kills the process.
///
/// With ``RedisConfiguration/sentinel`` set it connects to the master the sentinels name (and checks
/// with `ROLE` that it is one), drops itself on `-READONLY` or `-LOADING` (thrown as `.connection`, so
/// callers retry as after a lost connection), and reconnects before the next command when the
/// ``RedisSentinelMonitor``'s epoch moved. Without Sentinel none of this runs.
public final class RedisConnection {
    public let configuration: RedisConfiguration
    private var context: UnsafeMutablePointer<redisContext>?
    private var failures = 0
    private var nextAttempt: Date = .distantPast
    private var currentTimeout: Int = -1
    private var everConnected = false
    private let sentinel: RedisSentinelMonitor?
    /// The sentinel epoch this connection last resolved the master in.
    private var sentinelEpoch = 0
    /// True while `openContext` authenticates and checks the role: no failover handling then.
    private var isOpening = false

    /// A connection that opens on first use.
    public init(configuration: RedisConfiguration) {
        self.configuration = configuration
        self.sentinel = configuration.sentinel.map { RedisSentinelMonitor.shared(for: $0) }
    }

    deinit { disconnect() }

    /// True while a live hiredis context is open.
    public var isConnected: Bool { context != nil }

    /// Drops the connection; the next command reconnects.
    public func disconnect() {
        if let context { redisFree(context) }
        context = nil
        currentTimeout = -1
    }

    private func connectIfNeeded() throws -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let now = Date()
        if now < nextAttempt {
            throw RedisError(.connection, "not connected to \(configuration.redactedDescription) (retrying)")
        }
        do {
            let context = try openContext()
            self.context = context
            if let hook = configuration.onConnect {
                do { try hook.body(self, everConnected) } catch {
                    disconnect()
                    throw error
                }
            }
            everConnected = true
            failures = 0
            return context
        } catch {
            failures += 1
            let backoff = min(5.0, 0.1 * pow(2.0, Double(min(failures - 1, 6))))
            nextAttempt = now.addingTimeInterval(backoff)
            throw error
        }
    }

    private func openContext() throws -> UnsafeMutablePointer<redisContext> {
        let timeout = configuration.connectTimeoutMilliseconds
        var endpoint = configuration.endpoint
        var description = configuration.redactedDescription
        isOpening = true
        defer { isOpening = false }
        if let sentinel {
            sentinelEpoch = sentinel.epoch
            let (master, epoch) = try sentinel.resolveMaster()
            sentinelEpoch = epoch
            endpoint = .tcp(host: master.host, port: master.port)
            description = "master \(configuration.sentinel!.masterName) at \(master)"
        }
        let made: UnsafeMutablePointer<redisContext>?
        switch endpoint {
        case .tcp(let host, let port): made = conveyor_redis_connect_tcp(host, Int32(port), timeout)
        case .unix(let path): made = conveyor_redis_connect_unix(path, timeout)
        }
        guard let context = made else {
            throw RedisError(.connection, "cannot allocate a hiredis context")
        }
        if conveyor_redis_err(context) != 0 {
            let message = String(cString: conveyor_redis_errstr(context))
            redisFree(context)
            throw RedisError(.connection, "connect to \(description): \(message)")
        }
        self.context = context
        currentTimeout = -1
        do {
            if let password = configuration.password {
                var auth = ["AUTH"]
                if let user = configuration.username { auth.append(user) }
                auth.append(password)
                try expectOK(try send(auth.map { Array($0.utf8) }, timeoutMilliseconds: nil))
            }
            if configuration.database != 0 {
                try expectOK(try send([Array("SELECT".utf8), Array(String(configuration.database).utf8)], timeoutMilliseconds: nil))
            }
            if sentinel != nil {
                // A sentinel may still name a master that was demoted: only a master may be used.
                let role = try send([Array("ROLE".utf8)], timeoutMilliseconds: nil)
                guard role.array?.first?.string == "master" else {
                    throw RedisError(
                        .connection, "\(description) is not a master (\(role.array?.first?.string ?? "\(role)")); waiting for the failover")
                }
            }
        } catch {
            disconnect()
            throw error
        }
        self.context = nil
        return context
    }

    private func expectOK(_ reply: RedisValue) throws {
        if case .error(let message) = reply { throw RedisError(.server, message) }
    }

    private func applyTimeout(_ context: UnsafeMutablePointer<redisContext>, _ milliseconds: Int) {
        if milliseconds != currentTimeout {
            _ = conveyor_redis_set_timeout_ms(context, milliseconds)
            currentTimeout = milliseconds
        }
    }

    /// Sends one command and reads its reply. An error reply comes back as `.error`, not thrown.
    ///
    /// - Parameter timeoutMilliseconds: the reply timeout; `nil` uses the configured command timeout.
    ///   Blocking commands (BRPOP) pass their own blocking time plus a margin.
    public func send(_ arguments: [[UInt8]], timeoutMilliseconds: Int? = nil) throws -> RedisValue {
        try pipeline([arguments], timeoutMilliseconds: timeoutMilliseconds)[0]
    }

    /// Sends several commands in one write and reads their replies in order: one round trip.
    public func pipeline(_ commands: [[[UInt8]]], timeoutMilliseconds: Int? = nil) throws -> [RedisValue] {
        if let sentinel, !isOpening, sentinel.epoch != sentinelEpoch { followFailover(sentinel) }
        let context = try connectIfNeeded()
        applyTimeout(context, timeoutMilliseconds ?? configuration.commandTimeoutMilliseconds)
        for arguments in commands {
            let status = Self.withArgv(arguments) { count, pointers, lengths in
                redisAppendCommandArgv(context, count, pointers, lengths)
            }
            if status != REDIS_OK { throw connectionFailure(context) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
                throw connectionFailure(context)
            }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.decode(reply))
            freeReplyObject(raw)
        }
        if sentinel != nil, !isOpening { try checkStillMaster(replies) }
        return replies
    }

    /// The master moved (the sentinels said so): drop the connection and reconnect at once, without
    /// the backoff that failed attempts against the old address built up.
    private func followFailover(_ sentinel: RedisSentinelMonitor) {
        disconnect()
        failures = 0
        nextAttempt = .distantPast
        sentinelEpoch = sentinel.epoch
    }

    /// `-READONLY` (this server was demoted to a replica; a script's write reports it inside its own
    /// error text) or `-LOADING` (it restarts): drop the connection so the next command asks the
    /// sentinels again, and fail like a lost connection.
    private func checkStillMaster(_ replies: [RedisValue]) throws {
        for case .error(let message) in replies
        where message.hasPrefix("READONLY") || message.hasPrefix("LOADING") || message.contains("READONLY You can't write") {
            disconnect()
            throw RedisError(.connection, "\(configuration.sentinel!.masterName): \(message.prefix(200)) (asking the sentinels again)")
        }
    }

    /// Waits up to `waitingMilliseconds` for one unsolicited reply (a pub/sub message after
    /// SUBSCRIBE) and returns it; nil when none arrived in time.
    ///
    /// - Throws: `RedisError(.connection)` when the connection is closed or drops.
    func readPush(waitingMilliseconds: Int) throws -> RedisValue? {
        guard let context else { throw RedisError(.connection, "not connected to \(configuration.redactedDescription)") }
        var raw: UnsafeMutableRawPointer?
        // A reply hiredis already buffered comes first; only then wait for the socket.
        if redisGetReplyFromReader(context, &raw) != REDIS_OK { throw connectionFailure(context) }
        if raw == nil {
            var descriptor = pollfd(fd: conveyor_redis_fd(context), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(waitingMilliseconds))
            if ready == 0 || (ready < 0 && errno == EINTR) { return nil }
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw connectionFailure(context) }
        }
        defer { freeReplyObject(raw) }
        return Self.decode(raw!.assumingMemoryBound(to: redisReply.self))
    }

    private func connectionFailure(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let code = conveyor_redis_err(context)
        var message = String(cString: conveyor_redis_errstr(context))
        if message.isEmpty { message = "connection lost" }
        disconnect()
        let timedOut = code == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
        if timedOut || message.localizedCaseInsensitiveContains("temporarily unavailable") {
            return RedisError(.timeout, "no reply from \(configuration.redactedDescription) in time")
        }
        return RedisError(.connection, "\(configuration.redactedDescription): \(message)")
    }

    private static func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var total = 0
        for argument in arguments { total += argument.count }
        var storage = [UInt8]()
        storage.reserveCapacity(total + 1)
        var lengths = [Int]()
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            storage.append(contentsOf: argument)
            lengths.append(argument.count)
        }
        storage.append(0)
        return storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers = [UnsafePointer<CChar>?]()
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            for length in lengths {
                pointers.append(base + offset)
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { pointerBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(Int32(arguments.count), pointerBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }

    private static func decode(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            guard let pointer = value.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: pointer, count: value.len)))
        case REDIS_REPLY_STATUS:
            return .status(value.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(value.str.map { String(cString: $0) } ?? "ERR")
        case REDIS_REPLY_INTEGER:
            return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                if let element = value.element[index] { elements.append(decode(element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default:
            return .null
        }
    }
}
