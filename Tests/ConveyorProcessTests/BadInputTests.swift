import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

/// One malformed invocation of the CLI.
struct BadInput: Sendable, CustomTestStringConvertible {
    var name: String
    var arguments: [String]
    var environment: [String: String] = [:]
    /// Words the one-line error must contain (it names what was wrong).
    var mentions: String

    var testDescription: String { name }

    static let all: [BadInput] = [
        BadInput(name: "payload that is not JSON", arguments: ["enqueue", "echo", "--payload", "{oops"], mentions: "JSON"),
        BadInput(name: "unknown flag", arguments: ["enqueue", "echo", "--colour", "red"], mentions: "--colour"),
        BadInput(name: "bad priority", arguments: ["enqueue", "echo", "--priority", "urgent"], mentions: "--priority"),
        BadInput(name: "bad delay", arguments: ["enqueue", "echo", "--delay", "5 parsecs"], mentions: "--delay"),
        BadInput(name: "negative timeout", arguments: ["enqueue", "echo", "--timeout", "-1s"], mentions: "--timeout"),
        BadInput(name: "negative delay", arguments: ["enqueue", "echo", "--delay", "-5s"], mentions: "--delay must not be negative"),
        BadInput(name: "negative delay, joined", arguments: ["enqueue", "echo", "--delay=-5s"], mentions: "use --at"),
        BadInput(name: "--at after 9999", arguments: ["enqueue", "echo", "--at", "9999-12-31T23:59:59-01:00"], mentions: "run_at"),
        BadInput(name: "payload with 1E400", arguments: ["enqueue", "echo", "--payload", #"{"e":1E400}"#], mentions: "payload.e"),
        BadInput(
            name: "payload file missing", arguments: ["enqueue", "echo", "--payload", "@/nonexistent/p.json"], mentions: "@/nonexistent"),
        BadInput(
            name: "cron on February 30", arguments: ["schedule", "add", "s", "noop", "--cron", "0 0 30 2 *"], mentions: "never fires"),
        BadInput(
            name: "cron on April 31", arguments: ["schedule", "add", "s", "noop", "--cron", "0 0 31 4,6,9,11 *"], mentions: "never fires"),
        BadInput(name: "bad --at", arguments: ["enqueue", "echo", "--at", "next tuesday"], mentions: "--at"),
        BadInput(name: "unknown backoff", arguments: ["enqueue", "echo", "--backoff", "linear:1s"], mentions: "backoff"),
        BadInput(
            name: "backoff cap below its base", arguments: ["enqueue", "echo", "--backoff", "exponential:10s:1s"], mentions: "backoff"),
        BadInput(name: "bad backoff jitter", arguments: ["enqueue", "echo", "--backoff", "fixed:1s:2"], mentions: "jitter"),
        BadInput(name: "--max-attempts 0", arguments: ["enqueue", "echo", "--max-attempts", "0"], mentions: "max_attempts"),
        BadInput(name: "--max-attempts not a number", arguments: ["enqueue", "echo", "--max-attempts", "many"], mentions: "max-attempts"),
        BadInput(name: "--count 0", arguments: ["enqueue", "echo", "--count", "0"], mentions: "--count"),
        BadInput(name: "bad queue name", arguments: ["enqueue", "echo", "--queue", "a:b"], mentions: "queue"),
        BadInput(
            name: "payload over CONVEYOR_MAX_PAYLOAD",
            arguments: ["enqueue", "echo", "--payload", #"{"text":"0123456789012345678901234567890123456789"}"#],
            environment: ["CONVEYOR_MAX_PAYLOAD": "32"], mentions: "over the limit of 32"),
        BadInput(
            name: "CONVEYOR_MAX_PAYLOAD with an unknown unit", arguments: ["enqueue", "echo"],
            environment: ["CONVEYOR_MAX_PAYLOAD": "2g"], mentions: "CONVEYOR_MAX_PAYLOAD"),
        BadInput(
            name: "CONVEYOR_MAX_PAYLOAD with a unit it only half matches", arguments: ["enqueue", "echo"],
            environment: ["CONVEYOR_MAX_PAYLOAD": "64kb"], mentions: "CONVEYOR_MAX_PAYLOAD"),
        BadInput(
            name: "CONVEYOR_MAX_PAYLOAD too large to multiply", arguments: ["enqueue", "echo"],
            environment: ["CONVEYOR_MAX_PAYLOAD": "99999999999999999m"], mentions: "CONVEYOR_MAX_PAYLOAD"),
        BadInput(
            name: "CONVEYOR_MAX_CRASHES of 0", arguments: ["promoter"], environment: ["CONVEYOR_MAX_CRASHES": "0"],
            mentions: "CONVEYOR_MAX_CRASHES"),
        BadInput(
            name: "redis URL of another scheme", arguments: ["enqueue", "echo", "--redis-url", "http://127.0.0.1:6379"], mentions: "scheme"),
        BadInput(
            name: "redis URL with a bad port", arguments: ["enqueue", "echo", "--redis-url", "redis://127.0.0.1:99999"], mentions: "port"),
        BadInput(
            name: "redis URL with a bad database", arguments: ["enqueue", "echo", "--redis-url", "redis://127.0.0.1/x"],
            mentions: "database"),
        BadInput(name: "missing job type", arguments: ["enqueue"], mentions: "type"),
        BadInput(name: "worker with a bad lease", arguments: ["worker", "--lease", "soon"], mentions: "--lease"),
        BadInput(name: "worker with concurrency 0", arguments: ["worker", "--concurrency", "0"], mentions: "concurrency"),
        BadInput(name: "dead with two actions", arguments: ["dead", "--retry-all", "--delete", "x"], mentions: "--retry"),
    ]
}

@Suite("Bad input: one line on stderr, exit 2, nothing enqueued")
struct BadInputTests {
    @Test("rejected before anything reaches Redis", arguments: BadInput.all)
    func rejected(_ input: BadInput) async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let result = try await cluster.run(input.arguments, environment: input.environment, timeout: 15)
        #expect(result.status == 2, "\(result)")
        #expect(result.errorLines.count == 1, "stderr: \(result.error)")
        #expect(result.error.hasSuffix("\n"))
        #expect(result.error.contains(input.mentions), "stderr: \(result.error)")
        #expect(result.output.isEmpty, "stdout: \(result.output)")

        let stats = try await cluster.statsJSON()
        #expect((stats["totals"] as? [String: Any])?["enqueued"] as? Int == 0)
        #expect((stats["queues"] as? [String: Any])?.isEmpty == true)
        #expect(try await cluster.allEvents().isEmpty)
    }
}
