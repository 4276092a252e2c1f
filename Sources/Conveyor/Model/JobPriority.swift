/// A job's priority inside its queue. Workers drain `high` before `normal` before `low`.
public enum JobPriority: String, Sendable, Codable, CaseIterable {
    case high, normal, low
}
