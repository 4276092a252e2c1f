import Conveyor
import Foundation
import Hummingbird

/// The query of `GET /v1/events`: which messages a socket receives (`kinds`, `queue`, `type`, `job`,
/// `states`), where it resumes (`since`) and, for browsers, its one-time `token`.
public struct EventFilter: Sendable, Equatable {
    /// The kinds of message requested.
    public enum Kind: String, Sendable, CaseIterable { case job, stats }

    public var kinds: Set<Kind> = Set(Kind.allCases)
    public var queue: String?
    public var type: String?
    public var job: String?
    /// Job states to relay (the state an event leaves the job in); nil for all.
    public var states: Set<String>?
    public var since: StreamPosition?

    public init() {}

    /// States a job event can report beside `JobState`'s (a job dropped from or deleted in the
    /// dead-letter set).
    static let extraStates: Set<String> = ["dropped", "deleted"]

    /// Parses the query parameters; every bad value is a 400 naming its parameter.
    public init(query: [(name: String, value: String)]) throws(APIProblem) {
        let allowed: Set<String> = ["kinds", "queue", "type", "job", "states", "since", "token"]
        var seen: Set<String> = []
        for (name, value) in query {
            guard allowed.contains(name) else {
                throw APIProblem.invalid(
                    name, "unknown query parameter '\(name.prefix(60))'; allowed: \(allowed.sorted().joined(separator: ", "))")
            }
            guard seen.insert(name).inserted else { throw APIProblem.invalid(name, "query parameter '\(name)' is repeated") }
            switch name {
            case "kinds":
                var kinds: Set<Kind> = []
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let kind = Kind(rawValue: item.trimmingCharacters(in: .whitespaces)) else {
                        throw APIProblem.invalid("kinds", "'kinds' is a comma list of: job, stats (got '\(value.prefix(60))')")
                    }
                    kinds.insert(kind)
                }
                self.kinds = kinds
            case "queue", "type":
                guard Names.isValid(value) else {
                    throw APIProblem.invalid(name, "'\(name)' must be 1-100 characters of A-Z a-z 0-9 _ . -")
                }
                if name == "queue" { queue = value } else { type = value }
            case "job":
                guard (1...200).contains(value.count), !value.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                    throw APIProblem.invalid("job", "'job' must be a job id (1-200 characters, no spaces)")
                }
                job = value
            case "states":
                let valid = Set(JobState.allCases.map(\.rawValue)).union(Self.extraStates)
                var states: Set<String> = []
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    let state = item.trimmingCharacters(in: .whitespaces)
                    guard valid.contains(state) else {
                        throw APIProblem.invalid("states", "'states' is a comma list of: \(valid.sorted().joined(separator: ", "))")
                    }
                    states.insert(state)
                }
                self.states = states
            case "since":
                guard let position = StreamPosition(value) else {
                    throw APIProblem.invalid("since", "'since' must be an event id such as 1718000000000-0 (a message's seq)")
                }
                since = position
            default:
                break  // token: checked by the access check
            }
        }
    }

    /// Parses a request's query.
    public init(request: Request) throws(APIProblem) {
        try self.init(query: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
    }

    /// Whether a job message passes the filter.
    public func matches(_ message: JobEventMessage) -> Bool {
        guard kinds.contains(.job) else { return false }
        if let job, message.id != job { return false }
        if let queue, message.queue != queue { return false }
        if let type, message.type != type { return false }
        if let states {
            guard let state = message.state, states.contains(state) else { return false }
        }
        return true
    }
}
