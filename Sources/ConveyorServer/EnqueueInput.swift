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
        if let runAt = try date("run_at") {
            guard runAt.timeIntervalSince1970 >= 0, runAt.timeIntervalSinceNow <= 315_360_000 else {
                throw APIProblem.invalid(name("run_at"), "'\(name("run_at"))' must be within the next 10 years")
            }
            request.runAt = runAt
        }
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

    /// `{"kind","base_ms","max_ms","jitter"}`.
    func retryPolicy() throws(APIProblem) -> RetryPolicy {
        try allowOnly(["kind", "base_ms", "max_ms", "jitter"])
        let kind = try enumeration("kind", RetryPolicy.Kind.self, choices: ["none", "fixed", "exponential"]) ?? .exponential
        let base = try int("base_ms", in: 0...315_360_000_000) ?? (kind == .none ? 0 : 1_000)
        let jitter = try double("jitter", in: 0...1) ?? 0
        switch kind {
        case .none:
            return .none
        case .fixed:
            if value("max_ms") != nil { throw APIProblem.invalid(name("max_ms"), "'max_ms' applies to exponential backoff only") }
            return .fixed(milliseconds: base, jitter: jitter)
        case .exponential:
            let cap = try int("max_ms", in: 0...315_360_000_000) ?? max(base, 3_600_000)
            guard cap >= base else { throw APIProblem.invalid(name("max_ms"), "'max_ms' must be at least 'base_ms'") }
            return .exponential(baseMilliseconds: base, maxMilliseconds: cap, jitter: jitter)
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
