import Logging
import Synchronization

/// Log records kept in memory, for tests that check what a service logged.
public final class CapturedLogs: Sendable {
    public let records = Mutex<[(level: Logger.Level, message: String)]>([])

    public init() {}

    /// A logger (level notice) whose records land here.
    public var logger: Logger {
        Logger(label: "conveyor.test.captured") { _ in CapturingLogHandler(logs: self) }
    }

    /// The messages logged at `level`, oldest first.
    public func messages(_ level: Logger.Level) -> [String] {
        records.withLock { $0.filter { $0.level == level }.map(\.message) }
    }
}

/// The log handler behind `CapturedLogs.logger`.
public struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .notice

    public func log(event: LogEvent) {
        logs.records.withLock { $0.append((event.level, event.message.description)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
