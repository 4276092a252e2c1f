import Conveyor
import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Options of the history writer.
public struct HistoryWriterOptions: Sendable {
    /// The consumer group all writers share.
    public var group: String
    /// This writer's consumer name in the group (unique per process).
    public var consumer: String
    /// Stream entries read per batch.
    public var batch: Int
    /// How long one XREADGROUP waits for new entries.
    public var blockMilliseconds: Int
    /// Entries pending this long (their writer died or lost its connection) are claimed by another writer.
    public var claimIdleMilliseconds: Int
    /// Documents expire this long after the job finished or the event happened; nil = kept forever.
    public var ttlSeconds: Int?
    /// How often the writer checks its lag behind the stream (`Broker.eventStreamStatus`).
    public var lagCheckInterval: Duration
    /// The lag, as a fraction of the stream's cap, at which the writer logs at `.critical` (once per
    /// check interval while it lasts; `.notice` once when it drops back under).
    public var lagAlarmRatio: Double

    public init(
        group: String = "history", consumer: String? = nil, batch: Int = 1_000, blockMilliseconds: Int = 1_000,
        claimIdleMilliseconds: Int = 30_000, ttlSeconds: Int? = nil, lagCheckInterval: Duration = .seconds(10),
        lagAlarmRatio: Double = 0.8
    ) {
        self.group = group
        self.consumer = consumer ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.batch = batch
        self.blockMilliseconds = blockMilliseconds
        self.claimIdleMilliseconds = claimIdleMilliseconds
        self.ttlSeconds = ttlSeconds
        self.lagCheckInterval = lagCheckInterval
        self.lagAlarmRatio = lagAlarmRatio
    }

    /// Options from `CONVEYOR_HISTORY_TTL` (`30d`, `12h`...) and `CONVEYOR_HISTORY_CLAIM_IDLE` (`30s`).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HistoryWriterOptions
    {
        var options = HistoryWriterOptions()
        if let text = environment["CONVEYOR_HISTORY_TTL"], !text.isEmpty {
            options.ttlSeconds = max(1, try DurationParser.milliseconds(text) / 1_000)
        }
        if let text = environment["CONVEYOR_HISTORY_CLAIM_IDLE"], !text.isEmpty {
            options.claimIdleMilliseconds = max(1, try DurationParser.milliseconds(text))
        }
        return options
    }
}

/// Copies the `{ns}:events` stream into MongoDB: `job_events` (one document per event) and `jobs`
/// (one document per job), as a member of the consumer group `history`.
///
/// Each batch becomes one unordered bulk write per collection, and its entries are acknowledged
/// (XACK) only after MongoDB acknowledged both. Every write is idempotent: an event's `_id` is its
/// id (`HistoryEvent`: its stream entry's id and its place in it; a redelivered insert is a skipped
/// duplicate), and the job updates are upserts whose
/// result does not depend on order (see `HistoryEvent.jobWrites`). So an entry written twice — after
/// a crash between the write and the XACK, or claimed by another writer — changes nothing.
///
/// When MongoDB is down the writer logs once, retries the same batch with backoff and reads nothing
/// new: events wait in the stream. Entries left pending by a writer that died are claimed with
/// XAUTOCLAIM once idle for `claimIdleMilliseconds`. Any number of writers can run side by side.
public final class HistoryWriter: Service, Sendable {
    let broker: Broker
    let mongo: MongoClient
    let options: HistoryWriterOptions
    let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let written = Atomic<Int>(0)

    public init(
        broker: Broker, mongo: MongoClient, options: HistoryWriterOptions = HistoryWriterOptions(),
        logger: Logger = Logger(label: "conveyor.history")
    ) {
        self.broker = broker
        self.mongo = mongo
        self.options = options
        self.logger = logger
    }

    /// Events this writer has written and acknowledged.
    public var writtenCount: Int { written.load(ordering: .relaxed) }

    public var jobs: MongoCollection { mongo.collection("jobs") }
    public var jobEvents: MongoCollection { mongo.collection("job_events") }

    /// Asks the writer to stop after the batch in hand (the same as a graceful-shutdown signal).
    public func stop() { stopping.store(true, ordering: .relaxed) }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) }

    public func run() async throws {
        let lane = RedisPool(configuration: broker.pool.configuration, size: 1, name: "conveyor-history")
        defer { lane.close() }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await self.watchLag() }
                await self.loop(lane: lane)
                tasks.cancelAll()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        await leaveGroup(lane: lane)
        logger.info("history writer stopped", metadata: ["consumer": .string(options.consumer)])
    }

    /// Indexes of earlier versions that no query uses any more; dropped by `createIndexes` (every
    /// write that changes `updated_at` paid for the first one).
    static let supersededIndexes: [(collection: String, name: String)] = [
        ("jobs", "state_1_updated_at_-1"), ("jobs", "type_1_created_at_-1"), ("jobs", "queue_1_created_at_-1"),
        ("job_events", "job_1_ts_1"),
    ]

    /// Creates the indexes the history queries use (idempotent), and drops superseded ones.
    ///
    /// `HistoryQueries.listJobs` filters on state, type and/or queue and sorts by `_id` descending
    /// (keyset paging), hence `{state:1,_id:-1}`, `{type:1,_id:-1}`, `{queue:1,_id:-1}`; a job's
    /// timeline is its events sorted by `_id`, hence `{job:1,_id:1}`.
    public func createIndexes() async throws {
        var jobIndexes = [
            IndexModel(keys: ["state": 1, "_id": -1]),
            IndexModel(keys: ["type": 1, "_id": -1]),
            IndexModel(keys: ["queue": 1, "_id": -1]),
            IndexModel(keys: ["unique_key": 1]),
        ]
        var eventIndexes = [IndexModel(keys: ["job": 1, "_id": 1])]
        if let ttl = options.ttlSeconds {
            jobIndexes.append(IndexModel(keys: ["finished_at": 1], name: "finished_at_ttl", expireAfterSeconds: ttl))
            eventIndexes.append(IndexModel(keys: ["ts": 1], name: "ts_ttl", expireAfterSeconds: ttl))
        }
        try await jobs.createIndexes(jobIndexes)
        try await jobEvents.createIndexes(eventIndexes)
        for (collection, name) in Self.supersededIndexes {
            let present = try await mongo.collection(collection).listIndexes().contains { $0["name"]?.stringValue == name }
            if present {
                _ = try await mongo.runCommand(["dropIndexes": .string(collection), "index": .string(name)])
                logger.notice("dropped a superseded history index", metadata: ["collection": .string(collection), "index": .string(name)])
            }
        }
    }

    private func loop(lane: RedisPool) async {
        let key = broker.keys.events
        var indexesReady = false
        var groupReady = false
        // Own pending entries first (left by an earlier failure of this consumer), then new ones.
        var readingOwnPending = true
        var lastClaim = Date.distantPast
        var claimCursor = "0-0"
        var failures = 0
        logger.info("history writer started", metadata: ["consumer": .string(options.consumer), "stream": .string(key)])
        while !isStopping {
            do {
                if !indexesReady {
                    try await createIndexes()
                    indexesReady = true
                }
                if !groupReady {
                    try await createGroup(lane: lane)
                    groupReady = true
                }
                var entries: [HistoryEvent]
                var deleted: [String] = []
                if Date().timeIntervalSince(lastClaim) * 1_000 >= Double(options.claimIdleMilliseconds) / 2 {
                    (entries, deleted, claimCursor) = try await autoclaim(lane: lane, start: claimCursor)
                    if claimCursor == "0-0" { lastClaim = Date() }
                    if !entries.isEmpty {
                        logger.notice("claimed pending history events", metadata: ["count": .stringConvertible(entries.count)])
                    }
                } else {
                    entries = try await read(lane: lane, id: readingOwnPending ? "0" : ">")
                    if readingOwnPending && entries.isEmpty { readingOwnPending = false }
                }
                if failures > 0 {
                    logger.notice("history writer working again")
                    failures = 0
                }
                try await self.write(entries, lane: lane)
                if !deleted.isEmpty { try await acknowledge(deleted, lane: lane) }
            } catch {
                failures += 1
                if failures == 1 {
                    logger.error(
                        "history writer cannot write, retrying; events wait in the stream",
                        metadata: ["error": .string("\(error)")])
                } else if failures % 30 == 0 {
                    logger.warning(
                        "history writer still failing", metadata: ["error": .string("\(error)"), "attempts": .stringConvertible(failures)])
                }
                // After a failure, this consumer's unacknowledged entries are read again first.
                readingOwnPending = true
                await sleep(milliseconds: min(5_000, 100 << min(failures, 6)))
            }
        }
    }

    /// Checks the group's lag every `lagCheckInterval` (on the broker's pool, so a writer stuck retrying
    /// MongoDB still checks) and logs what `HistoryLagAlarm` decides.
    private func watchLag() async {
        var alarm = HistoryLagAlarm(threshold: options.lagAlarmRatio, interval: options.lagCheckInterval)
        let milliseconds = Int(options.lagCheckInterval / .milliseconds(1))
        while !isStopping, !Task.isCancelled {
            if let status = try? await broker.eventStreamStatus(group: options.group) {
                let metadata: Logger.Metadata = [
                    "lag": .stringConvertible(status.historyLag ?? -1), "max_length": .stringConvertible(status.maxLength),
                    "pending": .stringConvertible(status.historyPending), "stream": .string(broker.keys.events),
                ]
                switch alarm.observe(status, now: .now) {
                case .quiet: break
                case .critical:
                    logger.critical(
                        "history writer is \(Int(((status.historyLagRatio ?? 0) * 100).rounded())) % of the event stream's cap behind: the stream now grows past it, and once it reaches the hard cap (\(broker.configuration.eventsHardMaxLength) entries, CONVEYOR_EVENTS_HARD_MAXLEN) events trimmed before they are read never reach MongoDB (scale writers out, check MongoDB, or raise the caps)",
                        metadata: metadata)
                case .recovered:
                    logger.notice(
                        "history writer lag is back under \(Int((options.lagAlarmRatio * 100).rounded())) % of the event stream's cap",
                        metadata: metadata)
                }
            }
            await sleep(milliseconds: max(1, milliseconds))
        }
    }

    /// Writes a batch to MongoDB and acknowledges it; MongoDB failures are retried here with backoff,
    /// so the batch is never dropped (unless the writer stops: then it stays pending).
    ///
    /// When MongoDB (or libmongoc) refuses documents of the batch (`HistoryError.isRefusal`), the
    /// entries are written one by one instead: those still refused are recorded in `history_errors`
    /// (see `recordRefusal`) and counted, the others are written, and the whole batch is acknowledged,
    /// so one entry can never hold the stream up.
    private func write(_ entries: [HistoryEvent], lane: RedisPool) async throws {
        guard !entries.isEmpty else { return }
        var failures = 0
        var isolating = false
        var refused = 0
        while true {
            do {
                if isolating {
                    refused = try await writeIsolatingRefusals(entries)
                } else {
                    try await writeToMongo(entries)
                }
                break
            } catch let error as HistoryError where error.isRefusal && !isolating {
                isolating = true
            } catch {
                failures += 1
                if failures == 1 {
                    logger.error(
                        "MongoDB refuses the history batch, retrying; events wait in the stream",
                        metadata: ["error": .string("\(error)"), "events": .stringConvertible(entries.count)])
                } else if failures % 30 == 0 {
                    logger.warning(
                        "MongoDB still failing", metadata: ["error": .string("\(error)"), "attempts": .stringConvertible(failures)])
                }
                if isStopping { throw error }
                await sleep(milliseconds: min(5_000, 100 << min(failures, 6)))
                if isStopping { throw error }
            }
        }
        if failures > 0 { logger.notice("MongoDB is back; history writer catching up") }
        if refused > 0 {
            try await lane.command("HINCRBY", broker.keys.stats, Self.refusedStatsField, String(refused))
        }
        try await acknowledge(entryIDs(entries), lane: lane)
        written.add(entries.count, ordering: .relaxed)
    }

    /// The `{ns}:stats` field counting events MongoDB refused (recorded in `history_errors`).
    public static let refusedStatsField = "history_errors"

    /// The collection where refused events are kept (see `recordRefusal`).
    public var historyErrors: MongoCollection { mongo.collection("history_errors") }

    /// Writes the entries one by one; an entry MongoDB refuses is recorded in `history_errors`
    /// instead. Returns how many were refused; throws (for the caller to retry) on any other error.
    func writeIsolatingRefusals(_ entries: [HistoryEvent]) async throws -> Int {
        var refused = 0
        for entry in entries {
            do {
                try await writeToMongo([entry])
            } catch let error as HistoryError where error.isRefusal {
                try await recordRefusal(entry, error: error)
                refused += 1
            }
        }
        return refused
    }

    /// Keeps an event MongoDB refused in `history_errors`: `_id` = the event's id, `job`, `event`, `ts`
    /// (the event's time), `at` (when it was refused), `error` (MongoDB's or libmongoc's message) and
    /// `raw`, the event's fields as a JSON object of strings. Should even that be refused (an
    /// entry past MongoDB's 16 MiB document limit), `raw` keeps its first MiB and `raw_truncated` is
    /// true; should that be refused too, the event is only logged, at critical level.
    func recordRefusal(_ entry: HistoryEvent, error: HistoryError) async throws {
        logger.error(
            "MongoDB refuses a history event; it is kept in history_errors and the stream moves on",
            metadata: ["id": .string(entry.id), "job": .string(entry.job ?? ""), "error": .string("\(error)")])
        let raw = JSONText.string(entry.fields)
        var document: Document = [
            "_id": .string(entry.id), "job": entry.job.map { .string($0) } ?? .null, "event": .string(entry.name),
            "ts": .date(milliseconds: entry.milliseconds), "at": .date(Date()), "error": .string("\(error)"),
            "raw": .string(raw),
        ]
        do {
            try await historyErrors.bulkWrite([.insertOne(document)])
        } catch let refused as HistoryError where refused.isRefusal {
            document["raw"] = .string(String(decoding: raw.utf8.prefix(1 << 20), as: UTF8.self))
            document["raw_truncated"] = true
            do { try await historyErrors.bulkWrite([.insertOne(document)]) } catch let again as HistoryError where again.isRefusal {
                logger.critical(
                    "MongoDB refuses even the record of a refused history event; the event is lost to the history",
                    metadata: ["id": .string(entry.id), "job": .string(entry.job ?? ""), "error": .string("\(again)")])
            }
        }
    }

    /// The MongoDB part of a batch, without acknowledging anything: one unordered bulk write per
    /// collection (plus retries of upserts that raced another writer). Idempotent.
    public func writeToMongo(_ entries: [HistoryEvent]) async throws {
        // An entry trimmed from the stream while pending comes back without fields: nothing to write.
        let entries = entries.filter { !$0.fields.isEmpty }
        try await jobEvents.bulkWrite(entries.map { .insertOne($0.eventDocument) })
        var pending = HistoryEvent.jobWrites(entries)
        var round = 0
        while !pending.isEmpty {
            let result = try await jobs.bulkWrite(pending.map(\.model))
            let failed = Set(result.duplicateKeyErrors.map(\.index))
            round += 1
            // A duplicate key: either two upserts raced to create the job's document (retry), or a
            // conditional write met a later event (done once its retry fails the same way).
            pending = pending.enumerated().compactMap { index, write in
                guard failed.contains(index) else { return nil }
                return write.conditional && round > 1 ? nil : write
            }
            if round > 5, !pending.isEmpty {
                throw HistoryError(domain: HistoryError.conveyorDomain, code: 0, message: "job upserts keep failing with duplicate keys")
            }
        }
    }

    private func createGroup(lane: RedisPool) async throws {
        do {
            try await lane.command("XGROUP", "CREATE", broker.keys.events, options.group, "0", "MKSTREAM")
            logger.info("created consumer group", metadata: ["group": .string(options.group)])
        } catch let error as RedisError where error.code == .server && error.message.contains("BUSYGROUP") {
            // Another writer created it.
        }
    }

    /// Removes this consumer from the group when it holds no pending entry (consumer names are per
    /// process, so they would pile up); with entries pending it stays, for XAUTOCLAIM to take them.
    private func leaveGroup(lane: RedisPool) async {
        let key = broker.keys.events
        let group = options.group
        let consumer = options.consumer
        _ = try? await lane.withConnection { connection -> Bool in
            let pending = try connection.send(
                ["XPENDING", key, group, "-", "+", "1", consumer].map { Array($0.utf8) }
            ).throwingServerError()
            guard pending.array?.isEmpty == true else { return false }
            _ = try connection.send(["XGROUP", "DELCONSUMER", key, group, consumer].map { Array($0.utf8) }).throwingServerError()
            return true
        }
    }

    private func read(lane: RedisPool, id: String) async throws -> [HistoryEvent] {
        let arguments: [[UInt8]] =
            ["XREADGROUP", "GROUP", options.group, options.consumer, "COUNT", String(options.batch)].map { Array($0.utf8) }
            + (id == ">" ? ["BLOCK", String(options.blockMilliseconds)].map { Array($0.utf8) } : [])
            + ["STREAMS", broker.keys.events, id].map { Array($0.utf8) }
        let block = options.blockMilliseconds
        let reply = try await lane.withConnection { connection in
            try connection.send(arguments, timeoutMilliseconds: block + connection.configuration.commandTimeoutMilliseconds)
                .throwingServerError()
        }
        guard let streams = reply.array, let first = streams.first?.array, first.count == 2 else { return [] }
        return Self.entries(first[1])
    }

    /// XAUTOCLAIM: entries idle longer than the claim timeout become this consumer's. Returns them, the
    /// ids of entries trimmed from the stream meanwhile, and the cursor for the next call.
    private func autoclaim(lane: RedisPool, start: String) async throws -> ([HistoryEvent], [String], String) {
        let reply = try await lane.command(
            "XAUTOCLAIM", broker.keys.events, options.group, options.consumer, String(options.claimIdleMilliseconds), start, "COUNT",
            String(options.batch))
        guard let parts = reply.array, parts.count >= 2 else { return ([], [], "0-0") }
        let next = parts[0].string ?? "0-0"
        let deleted = parts.count > 2 ? (parts[2].array ?? []).compactMap(\.string) : []
        return (Self.entries(parts[1]), deleted, next)
    }

    /// The distinct stream entries that hold `events`, in order (XACK takes entry ids).
    private func entryIDs(_ events: [HistoryEvent]) -> [String] {
        var ids: [String] = []
        for event in events where ids.last != event.entryID { ids.append(event.entryID) }
        return ids
    }

    private func acknowledge(_ ids: [String], lane: RedisPool) async throws {
        guard !ids.isEmpty else { return }
        try await lane.command(["XACK", broker.keys.events, options.group] + ids)
    }

    /// Stream entries (an XRANGE/XREAD reply's list) as events (``HistoryEvent/decode(_:)``).
    public static func entries(_ value: RedisValue) -> [HistoryEvent] { HistoryEvent.decode(value) }

    /// Hands `body` every event of `broker`'s stream, oldest first, a page of 10,000 entries at a
    /// time: reads the whole stream, so it is for benchmarks, tools and tests.
    public static func scanEvents(_ broker: Broker, _ body: ([HistoryEvent]) -> Void) async throws {
        var start = "-"
        while true {
            let reply = try await broker.pool.command("XRANGE", broker.keys.events, start, "+", "COUNT", "10000").throwingServerError()
            let events = HistoryEvent.decode(reply)
            body(events)
            guard (reply.array?.count ?? 0) == 10_000, let last = events.last else { return }
            start = "(" + last.entryID
        }
    }

    /// The number of events in `broker`'s stream now (XLEN counts entries, which hold up to 10 each).
    public static func eventCount(_ broker: Broker) async throws -> Int {
        var count = 0
        try await scanEvents(broker) { count += $0.count }
        return count
    }

    private func sleep(milliseconds: Int) async {
        var left = milliseconds
        while left > 0, !isStopping, !Task.isCancelled {
            let step = min(left, 100)
            try? await Task.sleep(for: .milliseconds(step))
            left -= step
        }
    }
}
