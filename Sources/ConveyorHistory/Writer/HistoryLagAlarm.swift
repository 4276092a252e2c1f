import Conveyor

/// Decides when the history writer warns that it is falling far behind the event stream: past the
/// soft cap the stream grows (nothing unread is trimmed), and at the hard cap trimming drops events
/// before they reach MongoDB.
///
/// Pure: fed an `EventStreamStatus` and the time of each check, it answers what to log. While the lag is
/// at or over `threshold` of the stream's cap it answers `.critical` at most once per `interval`;
/// the first check under the threshold after that answers `.recovered` once. An unknown lag changes
/// nothing.
public struct HistoryLagAlarm: Sendable {
    /// What the writer logs after a check.
    public enum Decision: Sendable, Hashable {
        /// Nothing to say.
        case quiet
        /// The lag is at or over the threshold: log at `.critical`.
        case critical(lag: Int, maxLength: Int)
        /// The lag is back under the threshold after a `.critical`: log at `.notice`.
        case recovered(lag: Int, maxLength: Int)
    }

    /// The fraction of the stream's cap at which the lag is alarming (0.8 = 80 %).
    public var threshold: Double
    /// The least time between two `.critical` answers.
    public var interval: Duration
    /// True between a `.critical` and the `.recovered` that ends it.
    public private(set) var isAlarming = false
    private var lastCritical: ContinuousClock.Instant?

    public init(threshold: Double = 0.8, interval: Duration = .seconds(10)) {
        self.threshold = threshold
        self.interval = interval
    }

    /// The decision for one check at `now`.
    public mutating func observe(_ status: EventStreamStatus, now: ContinuousClock.Instant) -> Decision {
        guard let lag = status.historyLag, status.maxLength > 0 else { return .quiet }
        if Double(lag) >= threshold * Double(status.maxLength) {
            if let lastCritical, now - lastCritical < interval { return .quiet }
            lastCritical = now
            isAlarming = true
            return .critical(lag: lag, maxLength: status.maxLength)
        }
        guard isAlarming else { return .quiet }
        isAlarming = false
        lastCritical = nil
        return .recovered(lag: lag, maxLength: status.maxLength)
    }
}
