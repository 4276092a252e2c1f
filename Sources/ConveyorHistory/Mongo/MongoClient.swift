import CMongoc
import Foundation
import Logging
import RedisClient
import Synchronization

/// Where MongoDB is and how many threads talk to it.
public struct MongoConfiguration: Sendable {
    /// The URL used when `CONVEYOR_MONGO_URL` is not set.
    public static let defaultURL = "mongodb://127.0.0.1:27017/conveyor"

    /// A MongoDB connection string; its path names the database (`.../conveyor`).
    public var url: String
    /// Overrides the database named in the URL.
    public var database: String?
    /// Threads running libmongoc calls (each with a client popped from the pool): the most calls in flight.
    public var threads: Int
    /// Sent to the server in the handshake (shows in its logs and `currentOp`).
    public var appName: String

    public init(url: String = MongoConfiguration.defaultURL, database: String? = nil, threads: Int = 4, appName: String = "conveyor") {
        self.url = url
        self.database = database
        self.threads = threads
        self.appName = appName
    }

    /// The configuration from `CONVEYOR_MONGO_URL` (or the default URL).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> MongoConfiguration {
        MongoConfiguration(url: environment["CONVEYOR_MONGO_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultURL)
    }
}

/// A MongoDB client: one libmongoc client pool, used from a small fixed set of threads of its own.
///
/// libmongoc blocks, so no call ever runs on Swift's cooperative pool: each operation is queued, the
/// first free thread runs it with the client it popped from the pool at start, and the caller's task
/// resumes through a continuation. Waiting for a free thread holds no thread. Create one per process;
/// `close()` when done. Reconnecting after the server went away is libmongoc's: calls fail with a
/// network error (`HistoryError.isNetwork`) while it is down and succeed again once it is back.
public final class MongoClient: Sendable {
    typealias Work = @Sendable (MongoConnection) -> Void

    public let configuration: MongoConfiguration
    /// The database operations use (from the URL path, else `conveyor`).
    public let databaseName: String
    private let queue = WorkQueue<Work>()
    private let pool: MongoPoolHandle

    /// Parses the URL, creates the pool and starts the threads; connections open on first use.
    public init(configuration: MongoConfiguration = .fromEnvironment(), logger: Logger = Logger(label: "conveyor.mongo")) throws {
        MongoDriver.initialize()
        self.configuration = configuration
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(configuration.url, &error) else {
            var failure = HistoryError(error)
            failure.domain = HistoryError.conveyorDomain
            failure.code = HistoryError.invalidURLCode
            throw failure
        }
        let database = configuration.database ?? mongoc_uri_get_database(uri).map { String(cString: $0) }
        self.databaseName = database.flatMap { $0.isEmpty ? nil : $0 } ?? "conveyor"
        guard let pool = mongoc_client_pool_new(uri) else {
            mongoc_uri_destroy(uri)
            throw HistoryError(
                domain: HistoryError.conveyorDomain, code: HistoryError.invalidURLCode, message: "libmongoc refused \(configuration.url)")
        }
        let threads = max(1, configuration.threads)
        mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2)
        _ = mongoc_client_pool_set_appname(pool, configuration.appName)
        mongoc_client_pool_max_size(pool, UInt32(threads))
        self.pool = MongoPoolHandle(pool: pool, uri: uri, threads: threads)
        logger.debug("MongoDB client", metadata: ["database": "\(databaseName)", "threads": "\(threads)"])

        let queue = self.queue
        let handle = self.pool
        let databaseName = self.databaseName
        for index in 0..<threads {
            let thread = Thread {
                let client = mongoc_client_pool_pop(handle.pool)!
                let connection = MongoConnection(client: client, database: databaseName)
                while let work = queue.pop() {
                    work(connection)
                }
                mongoc_client_pool_push(handle.pool, client)
                handle.threadExited()
            }
            thread.name = "mongo-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit { queue.close() }

    /// Refuses new calls, lets the queued ones finish, and returns once every thread has ended and the
    /// pool is destroyed. Later calls fail with `HistoryError` code `closedCode`.
    public func close() async {
        queue.close()
        await pool.waitUntilDestroyed()
    }

    /// Runs `body` on one of the client's threads with a libmongoc client and returns its result.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (MongoConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.push { connection in
                do { continuation.resume(returning: try body(connection)) } catch { continuation.resume(throwing: error) }
            }
            if !accepted { continuation.resume(throwing: HistoryError.closed()) }
        }
    }

    /// A collection of the client's database.
    public func collection(_ name: String) -> MongoCollection {
        MongoCollection(client: self, database: databaseName, name: name)
    }

    /// Runs a database command (`{ping: 1}`, `{buildInfo: 1}`...) and returns the server's reply.
    /// - Parameter database: defaults to the client's database.
    @discardableResult
    public func runCommand(_ command: Document, database: String? = nil) async throws -> Document {
        let database = database ?? databaseName
        return try await withConnection { connection in
            try withBSON(command) { bson in
                try withReply { reply in
                    var error = bson_error_t()
                    guard mongoc_client_command_simple(connection.client, database, bson, nil, reply, &error) else {
                        throw HistoryError(error)
                    }
                    return try Document(bson: reply)
                }
            }
        }
    }

    /// Checks that the server answers (`{ping: 1}` on `admin`); throws the reason when it does not.
    public func ping() async throws {
        try await runCommand(["ping": 1], database: "admin")
    }

    /// The server's version string, from `buildInfo`: the health check shown by `conveyor` commands.
    public func serverVersion() async throws -> String {
        let reply = try await runCommand(["buildInfo": 1], database: "admin")
        return reply["version"]?.stringValue ?? "unknown"
    }

    /// Drops the client's database (tests use a database per test and drop it at the end).
    public func dropDatabase() async throws {
        let database = databaseName
        try await withConnection { connection in
            let handle = mongoc_client_get_database(connection.client, database)!
            defer { mongoc_database_destroy(handle) }
            var error = bson_error_t()
            guard mongoc_database_drop_with_opts(handle, nil, &error) else { throw HistoryError(error) }
        }
    }
}

/// A libmongoc client popped from the pool, used only by the thread that holds it.
struct MongoConnection {
    let client: OpaquePointer
    let database: String
}

/// The libmongoc pool and URI, destroyed by the last client thread to end.
///
/// `@unchecked Sendable`: `pool` and `uri` never change; `mongoc_client_pool_t` is documented
/// thread-safe for pop and push, and the URI is only read. Both are destroyed exactly once, by the
/// thread that brings `state.live` to zero, after every thread has pushed its client back; the
/// threads keep this object alive until then.
final class MongoPoolHandle: @unchecked Sendable {
    let pool: OpaquePointer
    private let uri: OpaquePointer
    private let state: Mutex<(live: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(pool: OpaquePointer, uri: OpaquePointer, threads: Int) {
        self.pool = pool
        self.uri = uri
        self.state = Mutex((live: threads, waiters: []))
    }

    func threadExited() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            state.live -= 1
            guard state.live == 0 else { return nil }
            defer { state.waiters = [] }
            return state.waiters
        }
        guard let waiters else { return }
        mongoc_client_pool_destroy(pool)
        mongoc_uri_destroy(uri)
        for waiter in waiters { waiter.resume() }
    }

    func waitUntilDestroyed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.live == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// libmongoc's process-wide set-up: `mongoc_init()` once, its log lines into swift-log.
enum MongoDriver {
    private static let initialized: Void = {
        mongoc_init()
        mongoc_log_set_handler(
            { level, domain, message, _ in
                let text = message.map { String(cString: $0) } ?? ""
                let metadata: Logger.Metadata = ["domain": "\(domain.map { String(cString: $0) } ?? "")"]
                switch level.rawValue {
                case 0, 1: mongocLogger.error("\(text)", metadata: metadata)
                case 2: mongocLogger.warning("\(text)", metadata: metadata)
                case 3, 4: mongocLogger.info("\(text)", metadata: metadata)
                default: mongocLogger.trace("\(text)", metadata: metadata)
                }
            }, nil)
    }()

    static func initialize() { _ = initialized }
}

private let mongocLogger = Logger(label: "conveyor.mongoc")
