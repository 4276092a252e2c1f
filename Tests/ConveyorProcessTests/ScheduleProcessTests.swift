import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

@Suite("Schedules across promoter processes")
struct ScheduleProcessTests {
    @Test("3 promoters and an every-second cron for ~20 s, one killed mid-run: exactly one job per tick, no gaps")
    func threePromotersOneJobPerTick() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let promoters = try (0..<3).map { _ in try cluster.promoter() }
        let added = try await cluster.run(["schedule", "add", "tick", "noop", "--cron", "* * * * * *"])
        #expect(added.status == 0, "\(added)")
        try await cluster.waitUntil(timeout: 20, "10 ticks with 3 promoters") { try await scheduledJobs(cluster.broker).count >= 10 }
        promoters[1].signal(SIGKILL)
        #expect(await promoters[1].waitForExit(timeout: 5) != nil)
        try await cluster.waitUntil(timeout: 20, "20 ticks with 2 promoters") { try await scheduledJobs(cluster.broker).count >= 20 }
        #expect(try await cluster.run(["schedule", "pause", "tick"]).status == 0)

        let jobs = try await scheduledJobs(cluster.broker)
        let ticks = jobs.map(\.tick)
        #expect(Set(ticks).count == ticks.count, "a tick fired twice")
        #expect(ticks == ticks.sorted())
        #expect(ticks.count == (ticks.last! - ticks.first!) / 1000 + 1, "gaps in \(ticks)")
        let lateness = jobs.map { $0.enqueued - $0.tick }.sorted()
        let p50 = lateness[lateness.count / 2]
        let p99 = lateness[min(lateness.count - 1, Int((Double(lateness.count) * 0.99).rounded(.up)) - 1)]
        let order = jobs.map { $0.enqueued - $0.tick }
        print("schedule tick lateness by tick, ms: \(order)")
        print(
            "schedule tick lateness over \(lateness.count) ticks (3 promoters, then 2): p50 \(p50) ms, p99 \(p99) ms, max \(lateness.last!) ms"
        )
    }

    @Test("misfire policies after all promoters stopped for a while: skip runs none, one runs one, all runs every missed tick")
    func misfireAfterDowntime() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        var promoters = try (0..<2).map { _ in try cluster.promoter() }
        for policy in MisfirePolicy.allCases {
            let added = try await cluster.run(["schedule", "add", policy.rawValue, "noop", "--every", "1s", "--misfire", policy.rawValue])
            #expect(added.status == 0, "\(added)")
        }
        try await cluster.waitUntil(timeout: 15, "every schedule fired") {
            Set(try await scheduledJobs(cluster.broker).map(\.schedule)).count == 3
        }
        for promoter in promoters { promoter.signal(SIGTERM) }
        for promoter in promoters { #expect(await promoter.waitForExit(timeout: 10) != nil) }
        let before = try await scheduledJobs(cluster.broker)
        // A loaded machine may already have made a tick late past the grace before the downtime: only the
        // misfires the downtime adds are checked.
        let misfiredBefore = Dictionary(uniqueKeysWithValues: try await cluster.broker.schedules().map { ($0.schedule.name, $0.misfired) })
        // Downtime on purpose: twice the 2 s grace after which a late tick is a misfire.
        try await Task.sleep(for: .seconds(4))
        let restart = try await redisMilliseconds(cluster.broker)
        promoters = [try cluster.promoter()]
        try await cluster.waitUntil(timeout: 15, "every schedule fired after the restart") {
            Set(try await scheduledJobs(cluster.broker).filter { $0.enqueued >= restart }.map(\.schedule)).count == 3
        }
        let after = try await scheduledJobs(cluster.broker)
        func lastBefore(_ name: String) -> Int { before.filter { $0.schedule == name }.map(\.tick).max()! }
        func firstAfterRestart(_ name: String) -> Int {
            after.filter { $0.schedule == name && $0.enqueued >= restart }.map(\.enqueued).min()!
        }
        func ticks(_ name: String, upTo limit: Int) -> [Int] {
            after.filter { $0.schedule == name && $0.tick > lastBefore(name) && $0.tick <= limit }.map(\.tick)
        }
        #expect(ticks("skip", upTo: restart).isEmpty)
        // `one` runs the latest missed tick, the one before the promoter's first look (at or after the
        // restart), and drops the older ones; the ticks after it follow every second. (Counting ticks up
        // to the first enqueue after the restart miscounted: on a loaded machine that catch-up can be
        // enqueued more than a second after its tick, and the next tick is then due too.)
        let one = ticks("one", upTo: Int.max).sorted()
        #expect(one.first.map { $0 > restart - 1000 } == true, "older missed ticks ran: \(one), restart \(restart)")
        #expect(zip(one.dropFirst(), one).allSatisfy { $0 - $1 == 1000 }, "\(one)")
        // And `one` did run a missed tick (`skip` would not): both schedules tick on the same second
        // boundaries (every 1s from the epoch) and are handled in the same pass, so skip's first tick
        // after the downtime is the one after one's catch-up.
        #expect(one.first.map { $0 + 1000 } == ticks("skip", upTo: Int.max).min(), "one \(one), skip \(ticks("skip", upTo: Int.max))")
        let all = ticks("all", upTo: firstAfterRestart("all"))
        #expect(all.count >= 4, "\(all)")
        #expect(all.first == lastBefore("all") + 1000 && zip(all.dropFirst(), all).allSatisfy { $0 - $1 == 1000 }, "\(all)")
        let infos = try await cluster.broker.schedules()
        func misfiredDuringDowntime(_ name: String) -> Int? {
            infos.first { $0.schedule.name == name }.map { $0.misfired - (misfiredBefore[name] ?? 0) }
        }
        #expect(misfiredDuringDowntime("skip") == 1)
        #expect(misfiredDuringDowntime("one") == 1)
        #expect(misfiredDuringDowntime("all") == 0)
    }

    @Test("promoter --schedule-grace: a tick later than the grace misfires (skip), within it fires; a bad value exits 2")
    func promoterScheduleGrace() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let bad = try await cluster.run(["promoter", "--schedule-grace", "soon"])
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.errorLines.count == 1 && bad.error.contains("--schedule-grace"), "\(bad)")

        // Hourly ticks from 30 s ago: the first one is 30 s late once made due.
        let tick = (try await redisMilliseconds(cluster.broker) - 30_000) / 1_000 * 1_000
        let start = RFC3339.string(Date(timeIntervalSince1970: Double(tick) / 1_000))
        let added = try await cluster.run(["schedule", "add", "hourly", "noop", "--every", "1h", "--start", start, "--misfire", "skip"])
        #expect(added.status == 0, "\(added)")
        /// Makes that tick due, as if no promoter had run since.
        func late() async throws -> Int {
            try await cluster.broker.pool.command("ZADD", cluster.broker.keys.schedulesDue, tick, "hourly")
            return tick
        }
        // Default grace (2 s): 30 s late is a misfire, skipped.
        _ = try await late()
        let strict = try cluster.promoter()
        try await cluster.waitUntil(timeout: 15, "the late tick was not handled") {
            try await cluster.broker.schedule("hourly")?.misfired == 1
        }
        strict.signal(SIGTERM)
        #expect(await strict.waitForExit() == 0)
        #expect(try await scheduledJobs(cluster.broker).isEmpty)

        // --schedule-grace 1m: the same lateness still fires that tick.
        _ = try await late()
        _ = try cluster.start(["promoter", "--schedule-grace", "1m"])
        try await cluster.waitUntil(timeout: 15, "the late tick did not fire within the grace") {
            try await scheduledJobs(cluster.broker).count == 1
        }
        #expect(try await scheduledJobs(cluster.broker).map(\.tick) == [tick])
        #expect(try await cluster.broker.schedule("hourly")?.misfired == 1)
    }

    @Test("conveyor schedule: add, list, pause, resume, run, remove; a bad expression exits 2 with position and reason")
    func cli() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let bad = try await cluster.run(["schedule", "add", "nightly", "echo", "--cron", "0 25 * * *"])
        #expect(bad.status == 2)
        let engine = cronMessage("0 25 * * *")
        #expect(!engine.isEmpty && bad.error.contains(engine), "\(bad)")
        #expect(try await cluster.run(["schedule", "add", "x", "echo", "--cron", "* * * * *", "--every", "1m"]).status == 2)
        #expect(try await cluster.run(["schedule", "add", "x", "echo", "--every", "5m", "--misfire", "never"]).status == 2)
        let cronStart = try await cluster.run(["schedule", "add", "x", "echo", "--cron", "0 * * * *", "--start", "2030-01-01T00:00:00Z"])
        #expect(cronStart.status == 2, "\(cronStart)")
        #expect(cronStart.errorLines.count == 1)
        #expect(cronStart.error.contains("--start applies to --every only"), "\(cronStart)")
        #expect(cronStart.output.isEmpty)
        #expect(try await cluster.broker.schedules().isEmpty)

        let added = try await cluster.run([
            "schedule", "add", "nightly", "echo", "--cron", "30 2 * * *", "--tz", "Europe/Paris", "--payload", #"{"a":1}"#,
            "--queue", "reports", "--priority", "low", "--max-attempts", "4", "--misfire", "one", "--no-overlap",
        ])
        #expect(added.status == 0, "\(added)")
        let object = try added.object()
        #expect(object["created"] as? Bool == true && object["tz"] as? String == "Europe/Paris")
        #expect((object["next"] as? [String])?.count == 5)
        #expect(try await cluster.run(["schedule", "pause", "nightly"]).status == 0)
        let again = try await cluster.run(["schedule", "pause", "nightly"])
        #expect(again.status == 3 && again.error.contains("conveyor: schedule nightly not found, or already paused"), "\(again)")
        let list = try await cluster.run(["schedule", "list"])
        let rows = try #require(try list.object()["schedules"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["paused"] as? Bool == true && rows[0]["no_overlap"] as? Bool == true)
        #expect(try await cluster.run(["schedule", "resume", "nightly"]).status == 0)
        let run = try await cluster.run(["schedule", "run", "nightly"])
        #expect(run.status == 0)
        let job = try await cluster.jobJSON(try #require(run.lines.first))
        #expect(job["schedule"] as? String == "nightly" && job["queue"] as? String == "reports")
        #expect(try await cluster.run(["schedule", "remove", "nightly"]).status == 0)
        let removed = try await cluster.run(["schedule", "remove", "nightly"])
        #expect(removed.status == 3 && removed.error.contains("conveyor: schedule nightly not found\n"), "\(removed)")
        #expect(try await cluster.run(["schedule", "run", "nightly"]).status == 3)
    }
}

/// The engine's rejection message for a cron expression ("" if it parses).
func cronMessage(_ text: String) -> String {
    do {
        _ = try CronExpression(text)
        return ""
    } catch {
        return error.message
    }
}
