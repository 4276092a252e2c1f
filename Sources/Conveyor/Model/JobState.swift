/// Where a job is in its lifecycle.
///
/// `scheduled → queued → running → succeeded`; a failed attempt goes `running → retrying` (waiting for
/// its backoff) and back to `queued`, until the last attempt fails: `dead`. `cancelled` from any state
/// before the job finishes.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case scheduled, queued, running, retrying, succeeded, dead, cancelled

    /// True once the job will not run again by itself.
    public var isFinished: Bool { self == .succeeded || self == .dead || self == .cancelled }
}
