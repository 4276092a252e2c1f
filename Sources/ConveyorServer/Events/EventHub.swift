import Conveyor
import ConveyorHistory
import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Settings of the live event feed.
public struct EventHubOptions: Sendable {
    /// Job events one socket may have queued before further ones are dropped for it (a `gap`).
    public var bufferCapacity: Int
    /// A socket whose buffer stays full this long is closed with 1008.
    public var closeAfter: Duration
    /// How long one XREAD waits for new entries (short, so shutdown is prompt).
    public var blockMilliseconds: Int
    /// Entries read per XREAD (and per page of a `since` replay). An entry holds up to 10 events, so
    /// the default 100 hands subscribers at most the 1,000 events at once it did when an entry was one
    /// event: a burst larger than a socket's buffer arrives in steps it can drain between reads.
    public var batch: Int
    /// Job identities (type, queue, priority) remembered for events that do not carry them.
    public var identityCacheSize: Int
    /// How often stats messages go out.
    public var statsInterval: Duration

    public init(
        bufferCapacity: Int = 2_048, closeAfter: Duration = .seconds(30), blockMilliseconds: Int = 1_000, batch: Int = 100,
        identityCacheSize: Int = 100_000, statsInterval: Duration = .seconds(1)
    ) {
        self.bufferCapacity = bufferCapacity
        self.closeAfter = closeAfter
        self.blockMilliseconds = blockMilliseconds
        self.batch = batch
        self.identityCacheSize = identityCacheSize
        self.statsInterval = statsInterval
    }
}

/// The live feed behind `GET /v1/events`: one reader of `{ns}:events` per server process (XREAD on a
/// Redis connection and thread of its own) fanned out to every subscribed socket through bounded
/// per-socket buffers, plus one stats computation a second shared by every socket that wants stats.
/// A ServiceLifecycle service: it runs while the server runs and ends every subscription on shutdown.
public final class EventHub: Service, Sendable {
    static let encoder = JSONBodyEncoder(nilStyle: .omit)

    let broker: Broker
    let options: EventHubOptions
    let logger: Logger
    private let subscribers = Mutex<[Int: EventSubscriber]>([:])
    private let nextID = Atomic<Int>(0)
    private let identities: Mutex<IdentityCache>
    /// Totals (succeeded, failed) sampled once a second, for the 10 s rates.
    private let samples = Mutex<[(at: ContinuousClock.Instant, succeeded: Int, failed: Int)]>([])
    /// Totals (succeeded, failed) sampled every `statsInterval`, with or without subscribers, for
    /// the last 5 minutes' per-second throughput (`throughput()`): a page that opens gets the
    /// chart's past at once instead of drawing from its first second.
    private let recent = Mutex<[(at: Date, succeeded: Int, failed: Int)]>([])
    /// Samples kept in `recent`: 5 minutes of seconds, and the one before them.
    static let recentSamples = 301
    private let stopping = Atomic<Bool>(false)
    /// How a stats message is computed; the API sets it (queue bodies live in ConveyorServer).
    let statsSource: @Sendable () async throws -> (BrokerStats, [String: QueueBody], Int)

    init(
        broker: Broker, options: EventHubOptions, logger: Logger,
        statsSource: @escaping @Sendable () async throws -> (BrokerStats, [String: QueueBody], Int)
    ) {
        self.broker = broker
        self.options = options
        self.logger = logger
        self.identities = Mutex(IdentityCache(capacity: options.identityCacheSize))
        self.statsSource = statsSource
    }

    /// Sockets subscribed now.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Registers a socket. Live events reach it from now on; replay `since` with `replay`.
    func subscribe(_ filter: EventFilter) -> (id: Int, subscriber: EventSubscriber) {
        let subscriber = EventSubscriber(filter: filter, capacity: options.bufferCapacity, closeAfter: options.closeAfter)
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = subscriber }
        if stopping.load(ordering: .acquiring) { subscriber.finish(.shutdown) }
        return (id, subscriber)
    }

    func unsubscribe(_ id: Int) {
        let subscriber = subscribers.withLock { $0.removeValue(forKey: id) }
        subscriber?.finish(.shutdown)
    }

    // MARK: running

    public func run() async throws {
        let lane = RedisPool(configuration: broker.pool.configuration, size: 1, name: "conveyor-events")
        defer { lane.close() }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.readLoop(lane: lane) }
                group.addTask { await self.statsLoop() }
                group.addTask { await self.throughputLoop() }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        stop()
    }

    /// Ends every subscription (sockets close with 1001) and stops the loops.
    func stop() {
        stopping.store(true, ordering: .releasing)
        for subscriber in subscribers.withLock({ Array($0.values) }) { subscriber.finish(.shutdown) }
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) || Task.isCancelled }

    /// XREAD from the stream's end, in order, handing every batch to the subscribers.
    private func readLoop(lane: RedisPool) async {
        var last: StreamPosition?
        var failures = 0
        while !isStopping {
            do {
                // Reads on without subscribers (decoding nothing), so a socket that subscribes and
                // replays `since` finds every later entry either in its replay or in the live feed.
                if last == nil { last = try await streamEnd(lane: lane) }
                let events = try await read(lane: lane, after: last!)
                failures = 0
                guard let final = events.last, let position = StreamPosition(final.entryID) else { continue }
                last = position
                if subscriberCount > 0 { deliver(try await messages(events, pool: broker.pool)) }
            } catch {
                if isStopping { break }
                failures += 1
                if failures == 1 { logger.error("event feed: reading the stream failed", metadata: ["error": .string("\(error)")]) }
                try? await Task.sleep(for: .milliseconds(min(2_000, 100 * failures)))
            }
        }
    }

    /// The id of the stream's last entry (0-0 when empty).
    private func streamEnd(lane: RedisPool) async throws -> StreamPosition {
        let reply = try await lane.command("XREVRANGE", broker.keys.events, "+", "-", "COUNT", "1").throwingServerError()
        return reply.array?.first?.array?.first?.string.flatMap { StreamPosition($0) } ?? .zero
    }

    private func read(lane: RedisPool, after position: StreamPosition) async throws -> [HistoryEvent] {
        let arguments: [[UInt8]] = [
            "XREAD", "COUNT", String(options.batch), "BLOCK", String(options.blockMilliseconds), "STREAMS", broker.keys.events,
            position.description,
        ].map { Array($0.utf8) }
        let block = options.blockMilliseconds
        let reply = try await lane.withConnection { connection in
            try connection.send(arguments, timeoutMilliseconds: block + connection.configuration.commandTimeoutMilliseconds)
                .throwingServerError()
        }
        guard let streams = reply.array, let first = streams.first?.array, first.count == 2 else { return [] }
        return HistoryWriter.entries(first[1])
    }

    /// One page of a `since` replay: the events after the event `position` in up to `batch` entries
    /// from `start` (an XRANGE start: the first page starts at the entry that may hold `position`,
    /// inclusive; later pages after the last entry read, exclusive). `lastEntry` is where the next
    /// page starts; `entries` is how many were read, so fewer than `batch` means the stream's end.
    func page(from start: String, after position: StreamPosition) async throws -> (
        events: [HistoryEvent], entries: Int, lastEntry: String?
    ) {
        let reply = try await broker.pool.command(
            "XRANGE", broker.keys.events, start, "+", "COUNT", String(options.batch)
        ).throwingServerError()
        let rows = reply.array ?? []
        let events = HistoryWriter.entries(reply).filter { StreamPosition($0.id).map { $0 > position } ?? true }
        return (events, rows.count, rows.last?.array?.first?.string)
    }

    /// The XRANGE start of a replay after the event `position`: the entry that holds it when it is
    /// an event of a batched entry (`<ms>-<seq * 1000 + index>`), which also covers an entry of the
    /// older layout whose id is `position` itself (its sequence is below 1,000 times any later one's).
    static func replayStart(after position: StreamPosition) -> String {
        StreamPosition(milliseconds: position.milliseconds, sequence: position.sequence / HistoryEvent.eventsPerEntry).description
    }

    /// Feed messages for stream entries, each with the job's type, queue and priority (from the
    /// entry, the cache, or the job hash in one pipelined round trip for the ones unknown).
    func messages(_ events: [HistoryEvent], pool: RedisPool) async throws -> [(JobEventMessage, EventFrame)] {
        var missing: [String] = []
        identities.withLock { cache in
            for event in events {
                guard let job = event.job else { continue }
                if let identity = JobEventMessage.identity(of: event) {
                    cache.insert(job, identity)
                } else if cache[job] == nil {
                    missing.append(job)
                }
            }
        }
        if !missing.isEmpty {
            let unique = Array(Set(missing))
            let replies = try await pool.pipeline(unique.map { ["HMGET", broker.keys.job($0), "type", "queue", "priority"] })
            identities.withLock { cache in
                for (job, reply) in zip(unique, replies) {
                    let values = reply.array ?? []
                    guard values.count == 3, let type = values[0].string else { continue }
                    cache.insert(job, JobIdentity(type: type, queue: values[1].string, priority: values[2].string))
                }
            }
        }
        return identities.withLock { cache in
            events.compactMap { event -> (JobEventMessage, EventFrame)? in
                guard let message = JobEventMessage(event, identity: event.job.flatMap { cache[$0] }),
                    let text = try? Self.encoder.string(message)
                else { return nil }
                return (message, EventFrame(text: text, position: StreamPosition(message.seq)))
            }
        }
    }

    private func deliver(_ messages: [(JobEventMessage, EventFrame)]) {
        guard !messages.isEmpty else { return }
        let now = ContinuousClock.now
        for subscriber in subscribers.withLock({ Array($0.values) }) {
            let frames = messages.compactMap { subscriber.filter.matches($0.0) ? $0.1 : nil }
            if !frames.isEmpty { subscriber.offer(events: frames, now: now) }
        }
    }

    // MARK: stats

    private func statsLoop() async {
        var failures = 0
        while !isStopping {
            let started = ContinuousClock.now
            let all = subscribers.withLock { Array($0.values) }
            for subscriber in all { subscriber.check(now: started) }
            let wanting = all.filter { $0.filter.kinds.contains(.stats) }
            if !wanting.isEmpty {
                do {
                    let frame = EventFrame(text: try Self.encoder.string(try await statsMessage()))
                    for subscriber in wanting { subscriber.offer(stats: frame) }
                    failures = 0
                } catch {
                    failures += 1
                    if failures == 1 { logger.error("event feed: stats failed", metadata: ["error": .string("\(error)")]) }
                }
            } else {
                samples.withLock { $0.removeAll() }
            }
            let left = options.statsInterval - (ContinuousClock.now - started)
            if left > .zero { try? await Task.sleep(for: left) }
        }
    }

    /// Samples the succeeded and failed totals every `statsInterval` into `recent` (one HMGET).
    private func throughputLoop() async {
        while !isStopping {
            let started = ContinuousClock.now
            if let reply = try? await broker.pool.command("HMGET", broker.keys.stats, "succeeded", "failed"),
                let values = reply.array, values.count == 2
            {
                let sample = (at: Date(), succeeded: values[0].int ?? 0, failed: values[1].int ?? 0)
                recent.withLock { recent in
                    recent.append(sample)
                    if recent.count > Self.recentSamples { recent.removeFirst(recent.count - Self.recentSamples) }
                }
            }
            let left = options.statsInterval - (ContinuousClock.now - started)
            if left > .zero { try? await Task.sleep(for: left) }
        }
    }

    /// Jobs succeeded and failed in each sampling interval (about a second) of the last 5 minutes
    /// that this server sampled, oldest first: each point is the change of the totals since the
    /// sample before, stamped with the interval's end and length. Empty until two samples were taken.
    public func throughput() -> [ThroughputPoint] {
        let samples = recent.withLock { $0 }
        return zip(samples, samples.dropFirst()).map { before, after in
            ThroughputPoint(
                at: after.at, seconds: (max(0, after.at.timeIntervalSince(before.at)) * 1_000).rounded() / 1_000,
                succeeded: max(0, after.succeeded - before.succeeded), failed: max(0, after.failed - before.failed))
        }
    }

    /// The stats message now, with rates over the samples of the last 10 s.
    func statsMessage() async throws -> StatsMessage {
        let (stats, queues, workers) = try await statsSource()
        let now = ContinuousClock.now
        let succeeded = stats.totals["succeeded"] ?? 0
        let failed = stats.totals["failed"] ?? 0
        let (perSecondSucceeded, perSecondFailed) = samples.withLock { samples -> (Double, Double) in
            samples.append((now, succeeded, failed))
            samples.removeAll { now - $0.at > .milliseconds(10_500) }
            guard let first = samples.first, samples.count > 1 else { return (0, 0) }
            let span = (now - first.at) / .seconds(1)
            guard span > 0 else { return (0, 0) }
            return (Double(max(0, succeeded - first.succeeded)) / span, Double(max(0, failed - first.failed)) / span)
        }
        return StatsMessage(
            at: Date(), queues: queues, delayed: stats.delayed, running: stats.running, dead: stats.dead,
            succeededPerSecond: (perSecondSucceeded * 100).rounded() / 100, failedPerSecond: (perSecondFailed * 100).rounded() / 100,
            workersOnline: workers, totals: stats.totals)
    }
}

/// One point of `GET /v1/stats/throughput`: the attempts that succeeded and failed in the sampling
/// interval of `seconds` ending at `at`.
public struct ThroughputPoint: Encodable, Sendable, Equatable {
    public var at: Date
    public var seconds: Double
    public var succeeded: Int
    public var failed: Int
}

/// `GET /v1/stats/throughput`: this server's per-second samples of the last 5 minutes.
public struct ThroughputBody: Encodable, Sendable {
    /// Seconds between samples.
    public var intervalSeconds: Double
    public var points: [ThroughputPoint]
}

/// Job id → identity, bounded: two generations, the older dropped whole when the newer fills.
struct IdentityCache {
    let capacity: Int
    private var current: [String: JobIdentity] = [:]
    private var previous: [String: JobIdentity] = [:]

    init(capacity: Int) { self.capacity = max(2, capacity) }

    subscript(job: String) -> JobIdentity? {
        current[job] ?? previous[job]
    }

    mutating func insert(_ job: String, _ identity: JobIdentity) {
        current[job] = identity
        if current.count >= capacity / 2 {
            previous = current
            current = [:]
        }
    }
}
