/// What a scheduler does with ticks it missed while it was not running.
public enum MisfirePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Run none of them; wait for the next future tick.
    case skip
    /// Run the latest missed tick once.
    case one
    /// Run every missed tick, up to a limit (the most recent ones).
    case all
}
