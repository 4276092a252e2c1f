import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("conveyor CLI edges: big payloads, duplicates, times before 1970")
struct CLIEdgeTests {
    /// A payload of about 1,000,000 bytes: far past Linux's ~128 KiB limit for one argument.
    static func bigPayload() -> String { #"{"blob":""# + String(repeating: "x", count: 1_000_000) + #"","n":1.10}"# }

    @Test("--payload @file and --payload - (stdin) reach the documented 1 MiB")
    func payloadFromFileAndStdin() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let payload = Self.bigPayload()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("payload-\(UUID().uuidString).json").path
        try (payload + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        for (arguments, stdin) in [(["--payload", "@" + file], nil), (["--payload", "-"], file)] as [([String], String?)] {
            let result = try await cluster.run(["enqueue", "echo"] + arguments, stdin: stdin)
            #expect(result.status == 0, "\(result)")
            let id = try #require(result.lines.first)
            #expect(try await cluster.broker.job(id)?.payload == payload, "\(arguments)")
        }
        // A payload that is a negative number is not taken for a flag.
        let negative = try await cluster.run(["enqueue", "echo", "--payload", "-1"])
        #expect(negative.status == 0, "\(negative)")
        #expect(try await cluster.broker.job(try #require(negative.lines.first))?.payload == "-1")
    }

    @Test("a duplicate --unique says so on stderr; --fail-on-duplicate exits 5")
    func duplicates() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let first = try await cluster.run(["enqueue", "echo", "--unique", "k1", "--delay", "1h"])
        #expect(first.status == 0 && first.error.isEmpty, "\(first)")
        let id = try #require(first.lines.first)
        let again = try await cluster.run(["enqueue", "echo", "--unique", "k1"])
        #expect(again.status == 0 && again.lines == [id], "\(again)")
        #expect(again.error.contains("duplicate of \(id)"), "\(again)")
        let strict = try await cluster.run(["enqueue", "echo", "--unique", "k1", "--fail-on-duplicate"])
        #expect(strict.status == 5 && strict.lines == [id] && strict.error.contains("duplicate of \(id)"), "\(strict)")
        let fresh = try await cluster.run(["enqueue", "echo", "--unique", "k2", "--fail-on-duplicate"])
        #expect(fresh.status == 0 && fresh.error.isEmpty, "\(fresh)")
        #expect(try await cluster.total("enqueued") == 2)
    }

    @Test("--at in the past, 1969 included, runs the job at once, as run_at does over REST")
    func pastTimes() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        for at in ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2001-01-01T00:00:00Z"] {
            let result = try await cluster.run(["enqueue", "echo", "--at", at])
            #expect(result.status == 0, "\(at): \(result)")
            let job = try await cluster.broker.job(try #require(result.lines.first))
            #expect(job?.state == .queued, "\(at)")
        }
    }
}
