import RedisClient

/// The event stream's size and how far the history writer's consumer group is behind it.
///
/// The promoter trims the stream near `maxLength` entries (the soft cap), but only entries the history
/// writers have acknowledged (``Broker/trimEvents(group:)``): a writer lagging that far makes the stream
/// grow instead, up to the hard cap, where trimming removes unread events that never reach MongoDB.
public struct EventStreamStatus: Sendable, Hashable {
    /// Entries in `{ns}:events` now (XLEN).
    public var length: Int
    /// The length the stream is trimmed near, its soft cap (`CONVEYOR_EVENTS_MAXLEN`).
    public var maxLength: Int
    /// Entries the consumer group has not read yet; nil when Redis cannot tell (no group yet, a
    /// Redis before 7.0, or entries deleted from the middle of the stream after the group's position).
    public var historyLag: Int?
    /// Entries the consumer group read and has not acknowledged yet (0 without a group).
    public var historyPending: Int
    /// `length / maxLength`: how full the stream is (about 1 in steady state once the cap is reached).
    public var fillRatio: Double
    /// True once a history writer created the consumer group.
    public var historyGroupExists: Bool

    public init(length: Int, maxLength: Int, historyLag: Int?, historyPending: Int, historyGroupExists: Bool) {
        self.length = length
        self.maxLength = maxLength
        self.historyLag = historyLag
        self.historyPending = historyPending
        self.fillRatio = maxLength > 0 ? Double(length) / Double(maxLength) : 0
        self.historyGroupExists = historyGroupExists
    }

    /// `historyLag / maxLength`; nil when the lag is unknown. Near 1, trimming drops unread events.
    public var historyLagRatio: Double? {
        guard let historyLag, maxLength > 0 else { return nil }
        return Double(historyLag) / Double(maxLength)
    }
}

extension Broker {
    /// The event stream's length and the lag and pending count of the history writers' consumer group
    /// (`group`, `history` by default), in one round trip (XLEN and XINFO GROUPS pipelined). Cheap
    /// enough to call on every metrics scrape.
    public func eventStreamStatus(group: String = "history") async throws -> EventStreamStatus {
        let replies = try await pool.pipeline([["XLEN", keys.events], ["XINFO", "GROUPS", keys.events]])
        guard replies.count == 2 else { throw ConveyorError(.redis, "event stream status: unexpected replies \(replies)") }
        if case .error(let message) = replies[0] { throw ConveyorError(.redis, "XLEN \(keys.events): \(message)") }
        let length = replies[0].int ?? 0
        var lag: Int?
        var pending = 0
        var exists = false
        switch replies[1] {
        case .error(let message) where message.contains("no such key"):
            break  // No stream yet, so no group either.
        case .error(let message):
            throw ConveyorError(.redis, "XINFO GROUPS \(keys.events): \(message)")
        default:
            for row in replies[1].array ?? [] {
                guard let fields = row.array else { continue }
                var values: [String: RedisValue] = [:]
                for index in stride(from: 0, to: fields.count - 1, by: 2) {
                    if let key = fields[index].string { values[key] = fields[index + 1] }
                }
                guard values["name"]?.string == group else { continue }
                exists = true
                pending = values["pending"]?.int ?? 0
                lag = values["lag"]?.int  // a nil reply when Redis cannot tell; absent before Redis 7.0
            }
        }
        return EventStreamStatus(
            length: length, maxLength: configuration.eventsMaxLength, historyLag: lag, historyPending: pending,
            historyGroupExists: exists)
    }
}

extension Broker {
    /// Trims the event stream near ``BrokerConfiguration/eventsMaxLength`` entries, removing only
    /// entries the history writers' consumer group (`group`) has delivered and acknowledged, so a slow
    /// or stopped writer loses nothing until the hard cap (``BrokerConfiguration/eventsHardMaxLength``).
    /// The promoter calls this about once a second; any number of callers may run it at once.
    /// Returns the number of entries removed.
    @discardableResult
    public func trimEvents(group: String = "history") async throws -> Int {
        let reply = try await scripts.trimEvents.run(
            on: pool, keys: [keys.events], arguments: [configuration.eventsMaxLength, configuration.eventsHardMaxLength, group])
        return reply.int ?? 0
    }
}
