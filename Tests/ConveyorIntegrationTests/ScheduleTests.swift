import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Schedules: definitions, management, firing and misfires")
struct ScheduleTests {
    static func hourly(_ name: String = "report", noOverlap: Bool = false, misfire: MisfirePolicy = .skip, every: String = "every 1h")
        -> Schedule
    {
        Schedule(
            name: name, expression: every, misfire: misfire, noOverlap: noOverlap,
            job: EnqueueRequest(type: "echo", payload: #"{"n":1}"#, queue: "reports", priority: .high, maxAttempts: 2))
    }

    @Test("upsert is idempotent by name; list, pause, resume, run now and remove")
    func management() async throws {
        try await withBroker { broker in
            #expect(try await broker.upsertSchedule(Self.hourly()) == true)
            #expect(try await broker.upsertSchedule(Self.hourly()) == false)
            var list = try await broker.schedules()
            #expect(list.count == 1)
            let info = try #require(list.first)
            #expect(info.schedule == Self.hourly())
            #expect(info.nextFireTimes.count == 5)
            let gaps = zip(info.nextFireTimes.dropFirst(), info.nextFireTimes).map { $0.timeIntervalSince($1) }
            #expect(gaps == [3600, 3600, 3600, 3600])
            #expect(try await broker.pool.command("ZCARD", broker.keys.schedulesDue).int == 1)

            #expect(try await broker.pauseSchedule("report") == true)
            #expect(try await broker.pauseSchedule("report") == false)
            list = try await broker.schedules()
            #expect(list.first?.paused == true && list.first?.nextFireTimes.isEmpty == true)
            #expect(try await broker.pool.command("ZCARD", broker.keys.schedulesDue).int == 0)
            // Replacing a paused schedule keeps it paused.
            #expect(try await broker.upsertSchedule(Self.hourly(every: "every 2h")) == false)
            #expect(try await broker.schedule("report")?.paused == true)
            #expect(try await broker.resumeSchedule("report") == true)
            #expect(try await broker.resumeSchedule("report") == false)
            #expect(try await broker.schedule("report")?.schedule.expression == "every 2h")
            #expect(try await broker.pool.command("ZCARD", broker.keys.schedulesDue).int == 1)

            let id = try #require(try await broker.runSchedule("report"))
            let job = try #require(try await broker.job(id))
            #expect(job.schedule == "report" && job.tick != nil)
            #expect(job.type == "echo" && job.queue == "reports" && job.priority == .high && job.maxAttempts == 2)
            #expect(job.state == .queued)
            let after = try #require(try await broker.schedule("report"))
            #expect(after.lastRunID == id && after.lastRunState == .queued && after.runs == 1)
            #expect(try await broker.runSchedule("nope") == nil)

            #expect(try await broker.removeSchedule("report") == true)
            #expect(try await broker.removeSchedule("report") == false)
            #expect(try await broker.schedules().isEmpty)
            #expect(try await broker.pool.command("ZCARD", broker.keys.schedulesDue).int == 0)
        }
    }

    @Test("bad names and expressions are rejected with the engine's message")
    func rejects() async throws {
        try await withBroker { broker in
            await #expect(throws: ConveyorError.self) { try await broker.upsertSchedule(Self.hourly("bad name")) }
            do {
                try await broker.upsertSchedule(Self.hourly(every: "*/5 * * * 9"))
                Issue.record("accepted a bad expression")
            } catch let error as ConveyorError {
                #expect(error.code == .invalidArgument)
                var engine = ""
                do { _ = try CronExpression("*/5 * * * 9") } catch let cronError as ConveyorError { engine = cronError.message }
                #expect(!engine.isEmpty && error.message == engine)
            }
            #expect(try await broker.schedules().isEmpty)
        }
    }

    @Test("a start time belongs to intervals: with a cron expression the schedule is rejected")
    func startOnlyForIntervals() async throws {
        try await withBroker { broker in
            var cron = Self.hourly("cron-start", every: "0 * * * *")
            cron.start = Date(timeIntervalSince1970: 1_800_000_000)
            do {
                try await broker.upsertSchedule(cron)
                Issue.record("accepted a cron schedule with a start time")
            } catch let error as ConveyorError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("start time applies to interval schedules"))
            }
            var interval = Self.hourly("interval-start")
            interval.start = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await broker.upsertSchedule(interval))
            #expect(try await broker.schedules().map(\.schedule.name) == ["interval-start"])
        }
    }

    @Test("a stored schedule that no longer parses leaves the due set with one error log, not one per pass")
    func unparseableStoredScheduleLogsOnce() async throws {
        let logs = CapturedLogs()
        let broker = Broker(
            redis: TestRedis.shared.configuration, configuration: BrokerConfiguration(namespace: uniqueNamespace()), logger: logs.logger)
        defer { broker.shutdown() }
        try await broker.upsertSchedule(Self.hourly("broken"))
        try await broker.upsertSchedule(Self.hourly("fine"))
        // As if written by another version: an expression this engine cannot read, due now.
        try await broker.pool.command("HSET", broker.keys.schedule("broken"), "expression", "every fortnight")
        let now = try await redisMilliseconds(broker)
        try await broker.pool.command("ZADD", broker.keys.schedulesDue, now, "broken", now, "fine")
        for _ in 0..<3 { _ = try await broker.fireDueSchedules() }
        let errors = logs.messages(.error)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.contains("schedule broken no longer parses") == true)
        #expect(errors.first?.contains("fortnight") == true)
        #expect(try await broker.pool.command("ZSCORE", broker.keys.schedulesDue, "broken").isNull)
        // The valid one fired its tick; the broken one is still listed, and redefining it brings it back.
        #expect(try await scheduledJobs(broker).map(\.schedule) == ["fine"])
        #expect(Set(try await broker.schedules().map(\.schedule.name)) == ["broken", "fine"])
        try await broker.upsertSchedule(Self.hourly("broken"))
        #expect(!(try await broker.pool.command("ZSCORE", broker.keys.schedulesDue, "broken").isNull))
    }

    static let hour = 3_600_000

    /// Moves an hourly schedule's due score back `hours` ticks, as if no promoter had run since. Hourly
    /// ticks keep the test deterministic: no new tick falls due while it runs (unless an hour turns).
    static func rewind(_ broker: Broker, _ name: String, hours: Int) async throws -> Int {
        let now = try await redisMilliseconds(broker)
        let due = (now / hour - hours) * hour
        try await broker.pool.command("ZADD", broker.keys.schedulesDue, due, name)
        return due
    }

    @Test("misfire after downtime: skip runs nothing, one runs the latest tick, all runs the latest ticks up to the limit")
    func misfires() async throws {
        try await withBroker { broker in
            for policy in MisfirePolicy.allCases {
                try await broker.upsertSchedule(Self.hourly(policy.rawValue, misfire: policy))
                _ = try await Self.rewind(broker, policy.rawValue, hours: 10)
            }
            try await broker.upsertSchedule(Self.hourly("all-short", misfire: .all))
            _ = try await Self.rewind(broker, "all-short", hours: 3)
            let now = try await redisMilliseconds(broker)
            let firing = try await broker.fireDueSchedules(graceMilliseconds: 2_000, catchUpLimit: 4)
            let jobs = try await scheduledJobs(broker)
            func ticks(_ name: String) -> [Int] { jobs.filter { $0.schedule == name && $0.tick <= now }.map(\.tick) }
            let latest = now / Self.hour * Self.hour
            #expect(ticks("skip").isEmpty)
            #expect(ticks("one") == [latest])
            #expect(ticks("all") == [latest - 3 * Self.hour, latest - 2 * Self.hour, latest - Self.hour, latest])
            #expect(ticks("all-short") == [latest - 3 * Self.hour, latest - 2 * Self.hour, latest - Self.hour, latest])
            #expect(firing.fired >= 9)
            let skip = try #require(try await broker.schedule("skip"))
            #expect(skip.misfired == 1)
            #expect(try await broker.schedule("all")?.misfired == 1)  // 11 missed, the latest 4 run
            #expect(try await broker.schedule("all-short")?.misfired == 0)  // 4 missed, all run
            let due = try await broker.pool.command("ZRANGE", broker.keys.schedulesDue, 0, -1, "WITHSCORES").array ?? []
            for index in stride(from: 1, to: due.count, by: 2) { #expect(Int(due[index].string ?? "") ?? 0 > now - 1000) }
        }
    }

    @Test("a tick that is late but within the grace fires, every tick once; no_overlap skips while the last run is unfinished")
    func graceAndNoOverlap() async throws {
        try await withBroker { broker in
            try await broker.upsertSchedule(Self.hourly("plain"))
            try await broker.upsertSchedule(Self.hourly("single", noOverlap: true))
            let first = try await Self.rewind(broker, "plain", hours: 1)
            _ = try await Self.rewind(broker, "single", hours: 1)
            let grace = 2 * Self.hour + 1
            let firing = try await broker.fireDueSchedules(graceMilliseconds: grace)
            #expect(firing.fired == 3 && firing.skipped == 1)
            let jobs = try await scheduledJobs(broker)
            #expect(jobs.filter { $0.schedule == "plain" }.map(\.tick) == [first, first + Self.hour])
            #expect(jobs.filter { $0.schedule == "single" }.map(\.tick) == [first])
            #expect(try await broker.schedule("single")?.skipped == 1)
            // Firing again the same ticks (another promoter with an old view) does nothing.
            try await broker.pool.command("ZADD", broker.keys.schedulesDue, first, "plain")
            #expect(try await broker.fireDueSchedules(graceMilliseconds: grace).fired == 0)
        }
    }

    @Test("declared at worker start-up: upserted once, and a restart with the same definition keeps the due time")
    func declaredByWorker() async throws {
        try await withBroker { broker in
            var options = WorkerOptions()
            options.schedules = [Self.hourly("declared", misfire: .one)]
            try await withWorker(broker, options: options, promoter: false) { _ in
                try await eventually { try await broker.schedule("declared") != nil }
            }
            let due = try await Self.rewind(broker, "declared", hours: 3)
            try await withWorker(broker, options: options, promoter: false) { _ in }
            #expect(try await broker.pool.command("ZSCORE", broker.keys.schedulesDue, "declared").int == due)
            #expect(try await broker.fireDueSchedules().fired == 1)  // the misfire policy still sees the downtime
            options.schedules[0].noOverlap = true
            try await withWorker(broker, options: options, promoter: false) { _ in
                try await eventually { try await broker.schedule("declared")?.schedule.noOverlap == true }
            }
        }
    }

    @Test("two promoters and an every-second cron: one job per tick, no gaps, and a new schedule wakes a sleeping promoter")
    func promotersFireEachTickOnce() async throws {
        try await withBroker { broker in
            let promoters = (0..<2).map { _ in
                Promoter(broker: broker, options: PromoterOptions(maxSleepMilliseconds: 60_000), logger: quietLogger)
            }
            try await withServices(promoters) {
                try await Task.sleep(for: .milliseconds(200))  // both asleep for up to a minute
                try await broker.upsertSchedule(
                    Schedule(name: "tick", expression: "* * * * * *", job: EnqueueRequest(type: "noop")))
                try await eventually(timeout: 10, "4 ticks") { try await scheduledJobs(broker).count >= 4 }
                try await broker.removeSchedule("tick")
            }
            let ticks = try await scheduledJobs(broker).map(\.tick)
            #expect(Set(ticks).count == ticks.count)
            #expect(zip(ticks.dropFirst(), ticks).allSatisfy { $0 - $1 == 1000 }, "\(ticks)")
        }
    }
}
