import Conveyor
import Foundation
import Hummingbird

extension JSONInput {
    /// The job fields a client may send, in `POST /v1/jobs`, a batch entry, or a schedule's template.
    static let jobFields: Set<String> = [
        "type", "payload", "queue", "priority", "delay_ms", "run_at", "max_attempts", "backoff", "timeout_ms", "unique_key",
    ]

    /// An enqueue request from this object; `extra` names fields the caller reads itself.
    func enqueueRequest(maxPayloadBytes: Int, allowTiming: Bool = true, extra: Set<String> = []) throws(APIProblem) -> EnqueueRequest {
        var allowed = Self.jobFields.union(extra)
        if !allowTiming { allowed.subtract(["delay_ms", "run_at", "unique_key"]) }
        try allowOnly(allowed)
        guard let type = try string("type", required: true) else { throw APIProblem.invalid(name("type"), "'type' is required") }
        var request = EnqueueRequest(type: type)
        if let payload = jsonText("payload") {
            guard payload.utf8.count <= maxPayloadBytes else {
                throw APIProblem(
                    .contentTooLarge, "'\(name("payload"))' is \(payload.utf8.count) bytes, over the limit of \(maxPayloadBytes)",
                    field: name("payload"))
            }
            request.payload = payload
        }
        if let queue = try string("queue") { request.queue = queue }
        if let priority = try enumeration("priority", JobPriority.self, choices: JobPriority.allCases.map(\.rawValue)) {
            request.priority = priority
        }
        if value("delay_ms") != nil && value("run_at") != nil {
            throw APIProblem.invalid(name("run_at"), "send either 'delay_ms' or 'run_at', not both")
        }
        request.delayMilliseconds = try int("delay_ms", in: 0...315_360_000_000)
        // A time in the past means now (`EnqueueRequest.validate` holds the rule for every front end).
        request.runAt = try date("run_at")
        if let attempts = try int("max_attempts", in: 1...10_000) { request.maxAttempts = attempts }
        if let backoff = try object("backoff") { request.retryPolicy = try backoff.retryPolicy() }
        if let timeout = try int("timeout_ms", in: 0...315_360_000_000) { request.timeoutMilliseconds = timeout }
        if let key = try string("unique_key") {
            guard (1...512).contains(key.utf8.count) else {
                throw APIProblem.invalid(name("unique_key"), "'unique_key' must be 1-512 bytes")
            }
            request.uniqueKey = key
        }
        do { try request.validate(maxPayloadBytes: maxPayloadBytes) } catch {
            throw APIProblem.invalid(name(Self.field(of: error.message)), error.message)
        }
        return request
    }

    /// `{"kind":"none"}`, `{"kind":"fixed","base_ms","jitter"}` or `{"kind":"exponential","base_ms","max_ms","jitter"}`
    /// (the default kind). An exponential cap below the base means every delay is the cap.
    func retryPolicy() throws(APIProblem) -> RetryPolicy {
        try allowOnly(["kind", "base_ms", "max_ms", "jitter"])
        let kind = try enumeration("kind", RetryPolicy.Kind.self, choices: ["none", "fixed", "exponential"]) ?? .exponential
        switch kind {
        case .none:
            try allowOnly(["kind"])
            return .none
        case .fixed:
            try allowOnly(["kind", "base_ms", "jitter"])
            let base = try int("base_ms", in: 0...315_360_000_000) ?? 1_000
            return .fixed(milliseconds: base, jitter: try double("jitter", in: 0...1) ?? 0)
        case .exponential:
            let base = try int("base_ms", in: 0...315_360_000_000) ?? 1_000
            let cap = try int("max_ms", in: 0...315_360_000_000) ?? max(base, 3_600_000)
            return .exponential(baseMilliseconds: min(base, cap), maxMilliseconds: cap, jitter: try double("jitter", in: 0...1) ?? 0)
        }
    }

    /// The request field a validation message is about (messages start with the field's name).
    static func field(of message: String) -> String {
        let first = message.prefix { $0.isLetter || $0 == "_" }
        switch first {
        case "delay": return "delay_ms"
        case "timeout": return "timeout_ms"
        case "": return "payload"
        default: return String(first)
        }
    }
}
