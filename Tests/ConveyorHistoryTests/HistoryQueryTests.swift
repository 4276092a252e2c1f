import Conveyor
import ConveyorHistory
import ConveyorTestSupport
import Foundation
import Testing

@Suite("History: queries", .serialized)
struct HistoryQueryTests {
    @Test func filtersCountsPerMinuteTimelineAndPagingUnderInserts() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let queries = HistoryQueries(mongo: mongo)
                var requests = (0..<4).map { EnqueueRequest(type: "echo", payload: #"{"i":\#($0)}"#) }
                requests += (0..<3).map { _ in EnqueueRequest(type: "noop", queue: "mail") }
                requests += (0..<2).map { _ in EnqueueRequest(type: "fail", payload: #"{"times":5}"#, maxAttempts: 1) }
                let ids = try await broker.enqueue(batch: requests).map(\.id)
                let failed = Array(ids.suffix(2))
                try await withServices([historyWriter(broker, mongo)]) {
                    try await withWorker(broker, options: WorkerOptions(queues: ["default", "mail"])) { _ in
                        try await eventually(timeout: 30) {
                            let totals = try await broker.stats().totals
                            return (totals["succeeded"] ?? 0) + (totals["dead"] ?? 0) >= 9
                        }
                    }
                    try await expectHistoryComplete(broker, mongo)

                    // Filters.
                    func listed(_ filter: JobFilter) async throws -> Set<String> {
                        Set(try await queries.listJobs(filter: filter, limit: 1_000).jobs.compactMap { $0["_id"]?.stringValue })
                    }
                    #expect(try await listed(JobFilter(state: "dead")) == Set(failed))
                    #expect(try await listed(JobFilter(type: "echo")) == Set(ids.prefix(4)))
                    #expect(try await listed(JobFilter(queue: "mail")) == Set(ids[4..<7]))
                    #expect(try await listed(JobFilter(state: "succeeded", queue: "default")) == Set(ids.prefix(4)))
                    #expect(try await listed(JobFilter(errorContains: "FAILING ON")) == Set(failed))
                    #expect(try await listed(JobFilter(errorContains: "(.*")).isEmpty)
                    // A NUL byte cannot go into a BSON regex as is; it is searched for, not an error.
                    #expect(try await listed(JobFilter(errorContains: "FAILING\u{0}ON")).isEmpty)
                    #expect(try await listed(JobFilter(since: Date().addingTimeInterval(-600))).count == 9)
                    #expect(try await listed(JobFilter(since: Date().addingTimeInterval(600))).isEmpty)
                    #expect(try await listed(JobFilter(until: Date().addingTimeInterval(-600))).isEmpty)

                    // Counts and throughput.
                    let counts = try await queries.counts()
                    #expect(counts.byState == ["succeeded": 7, "dead": 2])
                    #expect(counts.byType == ["echo": 4, "noop": 3, "fail": 2])
                    let minutes = try await queries.perMinute(hours: 1)
                    #expect(minutes.reduce(0) { $0 + $1.succeeded } == 7)
                    #expect(minutes.reduce(0) { $0 + $1.failed } == 2)
                    #expect(minutes.map(\.minute) == minutes.map(\.minute).sorted())
                    #expect(try await queries.perMinute(hours: 1, now: Date().addingTimeInterval(7_200)).isEmpty)

                    // One job with its timeline.
                    let (document, timeline) = try #require(try await queries.job(failed[0]))
                    #expect(document["state"] == "dead")
                    #expect(timeline.compactMap { $0["event"]?.stringValue } == ["enqueued", "started", "dead"])
                    #expect(try await queries.job("no-such-job") == nil)

                    // Paging with limit 3 while new jobs keep arriving.
                    var visited: [String] = []
                    var cursor: String?
                    var pages = 0
                    repeat {
                        let page = try await queries.listJobs(limit: 3, cursor: cursor)
                        visited += page.jobs.compactMap { $0["_id"]?.stringValue }
                        cursor = page.nextCursor
                        pages += 1
                        // A new job lands in MongoDB before the next page is read.
                        let before = try await mongo.collection("jobs").countDocuments()
                        _ = try await broker.enqueue(EnqueueRequest(type: "noop", queue: "elsewhere"))
                        try await eventually(timeout: 10) {
                            let now = try await mongo.collection("jobs").countDocuments()
                            if now <= before { try await Task.sleep(for: .milliseconds(200)) }
                            return now > before
                        }
                    } while cursor != nil && pages < 20
                    #expect(visited == ids.sorted(by: >))
                    #expect(Set(visited).count == visited.count)
                    #expect(try await mongo.collection("jobs").countDocuments() == 9 + pages)
                    await #expect(throws: HistoryError.self) { try await queries.listJobs(limit: 0) }
                    await #expect(throws: HistoryError.self) { try await queries.listJobs(limit: 1_001) }
                }
            }
        }
    }
}
