import Foundation

/// The ticks a scheduler should run after a pause, and where the schedule resumes.
public struct MisfirePlan: Sendable, Hashable {
    /// Missed ticks to run now, oldest first.
    public var missed: [Date]
    /// Whether some missed ticks are left out, by the policy or the limit.
    public var dropped: Bool
    /// The first tick strictly after now, or `nil` when the schedule has no more.
    public var next: Date?

    /// A plan from its parts.
    public init(missed: [Date], dropped: Bool, next: Date?) {
        self.missed = missed
        self.dropped = dropped
        self.next = next
    }
}
