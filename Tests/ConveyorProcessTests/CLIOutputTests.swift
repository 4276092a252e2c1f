import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

/// Listing commands for people (aligned tables on a terminal) and for programs (the API's JSON when
/// piped), enum flags, the version, and progress on a terminal.
@Suite("CLI: tables, JSON, enums, version, progress")
struct CLIOutputTests {
    @Test func tablesOnRequestJSONWhenPiped() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        _ = try await cluster.enqueue("noop", ["--queue", "alpha", "--priority", "high", "--count", "2"])
        let table = try await cluster.run(["stats", "--output", "table"])
        #expect(table.status == 0, "\(table)")
        #expect(
            table.lines.first?.split(separator: " ", omittingEmptySubsequences: true) == [
                "QUEUE", "HIGH", "NORMAL", "LOW", "DELAYED", "RUNNING", "DEAD", "PAUSED",
            ])
        #expect(table.lines.contains { $0.split(separator: " ") == ["alpha", "2", "0", "0", "0", "0", "0", "no"] }, "\(table.output)")
        #expect(table.lines.last?.hasPrefix("totals: ") == true)
        // Piped with no flag: JSON, the same as --output json.
        #expect(try await cluster.run(["stats"]).object()["queues"] != nil)
        #expect(try await cluster.run(["stats", "--output", "json"]).object()["queues"] != nil)
        #expect(try await cluster.run(["workers", "--output", "table"]).output == "no live workers\n")
        #expect(try await cluster.run(["dead", "--output", "table"]).output == "no dead jobs\n")
        #expect(try await cluster.run(["schedule", "list", "--output", "table"]).output == "no schedules\n")
        _ = try await cluster.run(["schedule", "add", "nightly", "noop", "--cron", "0 3 * * *", "--misfire", "one"])
        let schedules = try await cluster.run(["schedule", "list", "--output", "table"])
        #expect(schedules.lines.count == 2 && schedules.lines[1].hasPrefix("nightly") && schedules.lines[1].contains("0 3 * * *"))
        let bad = try await cluster.run(["stats", "--output", "yaml"])
        #expect(bad.status == 2 && bad.error.contains("table") && bad.error.contains("json"))
    }

    @Test func enumFlagsListTheirValuesAndTheVersionIsPrinted() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let version = try await cluster.run(["--version"])
        #expect(version.status == 0 && version.output == ConveyorVersion.current + "\n")
        let wrong = try await cluster.run(["enqueue", "noop", "--priority", "urgent"])
        #expect(wrong.status == 2 && wrong.error.contains("'high', 'normal' or 'low'"), "\(wrong)")
        for (arguments, values) in [
            (["enqueue", "--help"], "values: high, normal,"), (["jobs", "--help"], "values: scheduled, queued"),
            (["schedule", "add", "--help"], "values: skip, one, all"),
        ] {
            let help = try await cluster.run(arguments)
            #expect(help.status == 0 && help.output.contains(values), "\(arguments): \(help.output)")
        }
        #expect(try await cluster.run(["jobs", "--state", "finished"]).status == 2)
    }

    /// On a terminal (a pseudo-terminal from `script`): a table by default, and progress on standard
    /// error once an enqueue takes long enough (here at once; by default after a second).
    @Test func onATerminal() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        func onTerminal(_ command: String) async throws -> String {
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-tty-\(UUID().uuidString)").path
            var environment = ProcessInfo.processInfo.environment
            environment["CONVEYOR_REDIS_URL"] = cluster.url
            environment["CONVEYOR_NAMESPACE"] = cluster.namespace
            environment["MONGOC_DISABLE_SHM"] = "1"
            environment["CONVEYOR_PROGRESS_AFTER_MS"] = "0"
            let child = try ChildProcess(
                "script", ["-qfec", "'\(conveyorBinary)' \(command)", "/dev/null"], environment: environment, stdout: output,
                stderr: output + ".err")
            #expect(await child.waitForExit(timeout: 120) == 0)
            return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        }
        _ = try await cluster.enqueue("noop", ["--queue", "beta"])
        #expect(try await onTerminal("stats").contains("QUEUE"))
        let count = 25_000
        let progress = try await onTerminal("enqueue noop --queue bulk --count \(count) > /dev/null")
        #expect(progress.contains("enqueued \(count)/\(count) ("), "\(progress.suffix(300))")
        #expect(try await cluster.broker.stats().queues["bulk"]?.normal == count)
    }
}
