import Conveyor
import ConveyorHistory
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

extension ConveyorAPI {
    /// Prometheus text format 0.0.4.
    static func metricsResponse(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// 200 when Redis and MongoDB both answer within 2 s and Redis cannot evict keys; else 503 naming
    /// what failed. `checks.redis_eviction` is "ok" for `maxmemory-policy noeviction`, else what is wrong
    /// (and "allowed" when the process runs with eviction allowed: then it does not fail readiness).
    func readiness() async throws -> Response {
        async let redis = Self.check(seconds: 2) { [broker] in _ = try await broker.pool.command("PING") }
        async let mongo = Self.check(seconds: 2) { [mongo] in try await mongo.ping() }
        var checks = ["redis": await redis, "mongodb": await mongo]
        let eviction = broker.evictionCheck
        if let policy = eviction.policy, eviction.evicts {
            checks["redis_eviction"] =
                EvictionPolicyCheck.message(policy: policy) + (eviction.allowEviction ? " (allowed: --allow-eviction)" : "")
        } else {
            checks["redis_eviction"] = eviction.policy == nil ? "unknown" : "ok"
        }
        let failing = checks.filter { name, value in
            name == "redis_eviction" ? eviction.evicts && !eviction.allowEviction : value != "ok"
        }.keys.sorted()
        if failing.isEmpty { return try JSONResponse.make(StatusBody(status: "ready", checks: checks)) }
        var problem = APIProblem(.serviceUnavailable, "not ready: \(failing.joined(separator: " and ")) failing")
        problem.checks = checks
        return problem.makeResponse()
    }

    /// "ok", or why the check failed or that it took longer than `seconds`. The check runs on in the
    /// background when it overruns (a blocked driver call cannot be cancelled); the answer does not wait.
    public static func check(seconds: Double, _ body: @escaping @Sendable () async throws -> Void) async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let answer = FirstAnswer(continuation)
            Task {
                do {
                    try await body()
                    answer.give("ok")
                } catch { answer.give("unreachable: \(error)") }
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                answer.give("unreachable: no answer within \(Int(seconds)) s")
            }
        }
    }
}

/// Resumes a continuation with the first answer given; later ones are dropped.
final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<String, Never>?>

    init(_ continuation: CheckedContinuation<String, Never>) { self.continuation = Mutex(continuation) }

    func give(_ text: String) {
        continuation.withLock { waiting in
            waiting?.resume(returning: text)
            waiting = nil
        }
    }
}
