import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("conveyor CLI: jobs and job from the MongoDB history")
struct HistoryCLITests {
    @Test("jobs filters by state, type and queue and pages with --limit; job falls back to MongoDB; exit 3 when in neither")
    func jobsFiltersAndJobFallback() async throws {
        let mongoURL = try await TestMongo.shared.url(database: "cli_" + UUID().uuidString.prefix(8).lowercased())
        // Finished job hashes leave Redis at once, so `conveyor job` has to ask MongoDB.
        let cluster = try Cluster(environment: ["CONVEYOR_MONGO_URL": mongoURL, "CONVEYOR_KEEP_FINISHED": "0"])
        defer { cluster.close() }
        let history = try cluster.start(["history"])
        _ = try cluster.worker(concurrency: 4, queues: "default,mail")

        let echoes = try await cluster.enqueue("echo", ["--payload", #"{"n":1}"#, "--count", "3"])
        let mails = try await cluster.enqueue("noop", ["--queue", "mail", "--count", "2"])
        let failures = try await cluster.enqueue("fail", ["--payload", #"{"times":5}"#, "--max-attempts", "1", "--count", "2"])
        let all = echoes + mails + failures
        #expect(all.count == 7)

        /// `conveyor jobs ARGUMENTS` as (ids in the order printed, next_cursor, the parsed output).
        func jobs(_ arguments: [String]) async throws -> (ids: [String], next: String?, jobs: [[String: Any]]) {
            let result = try await cluster.run(["jobs"] + arguments)
            guard result.status == 0 else { throw ConveyorError(.invalidArgument, "jobs \(arguments): \(result)") }
            #expect(!result.output.contains("$date"), "extended JSON in \(result.output.prefix(300))")
            let object = try result.object()
            let list = try #require(object["jobs"] as? [[String: Any]])
            return (list.compactMap { $0["id"] as? String }, object["next_cursor"] as? String, list)
        }
        try await cluster.waitUntil(timeout: 30, "the history holds the 7 finished jobs: \(history.errorOutput)") {
            let finished = try await jobs(["--limit", "1000"]).jobs.filter { $0["finished_at"] is String }
            if finished.count < 7 { try await Task.sleep(for: .milliseconds(200)) }
            return finished.count == 7
        }

        // Filters, newest first (ids are time-ordered).
        #expect(try await jobs(["--state", "succeeded"]).ids == (echoes + mails).sorted(by: >))
        #expect(try await jobs(["--state", "dead"]).ids == failures.sorted(by: >))
        #expect(try await jobs(["--type", "echo"]).ids == echoes.sorted(by: >))
        #expect(try await jobs(["--queue", "mail"]).ids == mails.sorted(by: >))
        #expect(try await jobs(["--state", "succeeded", "--queue", "mail"]).ids == mails.sorted(by: >))
        #expect(try await jobs(["--state", "dead", "--type", "echo"]).ids.isEmpty)
        #expect(try await jobs(["--queue", "nowhere"]).next == nil)

        // --limit pages; each page's next_cursor leads to the next; the last page has none.
        var visited: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await jobs(["--limit", "3"] + (cursor.map { ["--cursor", $0] } ?? []))
            #expect(page.ids.count <= 3)
            visited += page.ids
            cursor = page.next
            pages += 1
        } while cursor != nil && pages < 10
        #expect(visited == all.sorted(by: >))
        #expect(pages == 3)
        let bad = try await cluster.run(["jobs", "--limit", "0"])
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.errorLines.count == 1)

        // Plain JSON: dates as RFC 3339 strings, payload and result as nested JSON.
        let echo = try #require(try await jobs(["--type", "echo", "--limit", "1"]).jobs.first)
        for key in ["created_at", "updated_at", "finished_at"] { #expect(isRFC3339(echo[key]), "\(key): \(String(describing: echo[key]))") }
        #expect((echo["payload"] as? [String: Any])?["n"] as? Int == 1)
        #expect((echo["result"] as? [String: Any])?["n"] as? Int == 1)
        let attempt = try #require((echo["attempts"] as? [String: Any])?["1"] as? [String: Any])
        #expect(isRFC3339(attempt["started_at"]) && isRFC3339(attempt["finished_at"]))

        // `conveyor job ID` of a job gone from Redis: the history document with its timeline.
        let gone = echoes[0]
        #expect(try await cluster.broker.job(gone) == nil)
        let shown = try await cluster.run(["job", gone])
        #expect(shown.status == 0, "\(shown)")
        #expect(!shown.output.contains("$date"))
        let document = try shown.object()
        #expect(document["id"] as? String == gone && document["source"] as? String == "history")
        #expect(document["state"] as? String == "succeeded")
        #expect(isRFC3339(document["finished_at"]))
        let timeline = try #require(document["timeline"] as? [[String: Any]])
        #expect(timeline.compactMap { $0["event"] as? String } == ["enqueued", "started", "succeeded"])
        #expect(timeline.allSatisfy { isRFC3339($0["ts"]) })

        // A dead job is still in Redis: shown from there (the timeline, in MongoDB, is not asked).
        let dead = try await cluster.jobJSON(failures[0])
        #expect(dead["state"] as? String == "dead" && dead["source"] as? String == "redis")
        #expect(dead["timeline"] is NSNull)

        // In neither: exit 3 and one line, MongoDB reachable or not.
        let unknown = try await cluster.run(["job", JobID.make()])
        #expect(unknown.status == 3, "\(unknown)")
        #expect(unknown.errorLines.count == 1)
        #expect(unknown.error.contains("in Redis or in MongoDB"))
        #expect(unknown.output.isEmpty)
        let unreachable = try await cluster.run(
            ["job", JobID.make()], environment: ["CONVEYOR_MONGO_URL": "mongodb://127.0.0.1:\(try freePort())/x"])
        #expect(unreachable.status == 3, "\(unreachable)")
        #expect(unreachable.errorLines.count == 1)
        #expect(unreachable.error.contains("MongoDB is unreachable"))
        let listUnreachable = try await cluster.run(
            ["jobs"], environment: ["CONVEYOR_MONGO_URL": "mongodb://127.0.0.1:\(try freePort())/x"])
        #expect(listUnreachable.status == 1, "\(listUnreachable)")
        #expect(listUnreachable.errorLines.count == 1)
    }
}
