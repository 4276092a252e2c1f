import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("kill -9 chaos")
struct KillNineTests {
    static let jobCount = 3_000
    static let batches = 12

    @Test("workers killed at random while 3000 jobs run: every job succeeds, recorded exactly once")
    func randomKills() async throws {
        // Quarantine is not under test here: a job may be running in several killed workers in a row.
        let cluster = try Cluster(environment: ["CONVEYOR_MAX_CRASHES": "1000"])
        defer { cluster.close() }
        _ = try cluster.promoter()
        func startWorker() throws -> ConveyorProcess { try cluster.worker(lease: "1s", concurrency: 8, grace: "1s") }
        var workers = try (0..<3).map { _ in try startWorker() }
        var kills = 0

        // A feeder enqueues a batch every ~second (noop, 0-5 ms sleeps and some 100 ms sleeps, so
        // kills catch jobs mid-run) while the main loop kills a random worker every 300-700 ms.
        let feeder = Task { () -> [String] in
            var ids: [String] = []
            let perBatch = Self.jobCount / Self.batches
            for _ in 0..<Self.batches {
                var requests: [EnqueueRequest] = []
                for index in 0..<perBatch {
                    switch index % 5 {
                    case 0, 1: requests.append(EnqueueRequest(type: "noop", retryPolicy: .none))
                    case 2, 3:
                        requests.append(EnqueueRequest(type: "sleep", payload: #"{"ms":\#(Int.random(in: 0...5))}"#, retryPolicy: .none))
                    default: requests.append(EnqueueRequest(type: "sleep", payload: #"{"ms":100}"#, retryPolicy: .none))
                    }
                }
                ids += try await cluster.broker.enqueue(batch: requests).map(\.id)
                try await Task.sleep(for: .milliseconds(900))
            }
            return ids
        }
        let chaosEnd = ContinuousClock.now.advanced(by: .seconds(13))
        while ContinuousClock.now < chaosEnd {
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...700)))
            let index = Int.random(in: 0..<workers.count)
            workers[index].signal(SIGKILL)
            #expect(await workers[index].waitForExit(timeout: 5) != nil)
            kills += 1
            workers[index] = try startWorker()
        }
        let ids = try await feeder.value
        #expect(ids.count == Self.jobCount)

        try await cluster.waitUntil(timeout: 40, "all \(Self.jobCount) jobs succeeded") {
            try await cluster.total("succeeded") >= Self.jobCount
        }
        let jobs = try await cluster.jobs(ids)
        let unfinished = jobs.values.filter { $0.state != .succeeded }
        #expect(unfinished.isEmpty, "\(unfinished.prefix(5).map { "\($0.id) \($0.state)" })")
        #expect(jobs.count == Self.jobCount)

        let events = try await cluster.allEvents()
        let succeeded = eventCounts(events, "succeeded")
        #expect(succeeded.count == Self.jobCount)
        let twice = succeeded.filter { $0.value != 1 }
        #expect(twice.isEmpty, "jobs recorded more than once: \(twice.prefix(5))")
        let stats = try await cluster.broker.stats()
        #expect(stats.totals["succeeded"] == Self.jobCount)
        #expect(stats.running == 0)
        #expect(stats.dead == 0)
        #expect(stats.queues["default"].map { $0.high + $0.normal + $0.low } == 0)
        // The chaos did hit running jobs (else this test proves nothing).
        #expect(kills >= 15)
        #expect((stats.totals["stalled"] ?? 0) > 0)
        for worker in workers { #expect(worker.isRunning) }
    }
}
