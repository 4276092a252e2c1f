import Foundation
import RedisClient

/// What one pass over the due schedules did.
public struct ScheduleFiring: Sendable, Equatable {
    /// Jobs enqueued by this caller.
    public var fired: Int
    /// Ticks this caller claimed and skipped because the previous run was unfinished (no_overlap).
    public var skipped: Int
    /// Milliseconds until the next schedule is due (0: more are due now; nil: none is scheduled).
    public var nextDueMilliseconds: Int?
}

extension Broker {
    /// Creates or replaces the schedule named `schedule.name` and sets its next fire time from now; a
    /// paused schedule stays paused. Idempotent: the definition already stored changes nothing (not even
    /// the due time), so services can declare their schedules at every start. Returns true when created.
    @discardableResult
    public func upsertSchedule(_ schedule: Schedule) async throws -> Bool {
        try schedule.validate(maxPayloadBytes: configuration.maxPayloadBytes)
        let spec = try schedule.spec()
        let now = try await redisNow()
        let next = spec.nextFire(after: now).map(Self.milliseconds) ?? -1
        let reply = try await runScheduleAdmin("upsert", schedule.name, next: next, fields: schedule.fields)
        return reply == 1
    }

    /// Removes a schedule. Returns false if there was none.
    @discardableResult
    public func removeSchedule(_ name: String) async throws -> Bool {
        try await runScheduleAdmin("remove", name) == 1
    }

    /// Holds a schedule's ticks back until resumed. Returns false if it was already paused (or absent).
    @discardableResult
    public func pauseSchedule(_ name: String) async throws -> Bool {
        try await runScheduleAdmin("pause", name) == 1
    }

    /// Resumes a paused schedule from its next tick after now (the ticks of the pause are not run).
    /// Returns false if it was not paused (or absent).
    @discardableResult
    public func resumeSchedule(_ name: String) async throws -> Bool {
        guard let info = try await schedule(name) else { return false }
        let now = try await redisNow()
        let next = try info.schedule.spec().nextFire(after: now).map(Self.milliseconds) ?? -1
        return try await runScheduleAdmin("resume", name, next: next) == 1
    }

    /// Enqueues the schedule's job now, outside its ticks (pause and no_overlap do not apply); the
    /// job's `tick` is the time of the call. Returns the job id, or nil if there is no such schedule.
    public func runSchedule(_ name: String) async throws -> String? {
        guard Names.isValid(name) else { return nil }
        let id = JobID.make()
        let reply = try await fireScheduleScript(name: name, version: "", tick: -1, next: -1, id: id, ttl: 0, mode: "manual", expected: 0)
        return reply.status == "fired" ? id : nil
    }

    /// One schedule with its state and next 5 fire times.
    public func schedule(_ name: String) async throws -> ScheduleInfo? {
        guard Names.isValid(name) else { return nil }
        return try await schedules(names: [name]).first
    }

    /// Every schedule, by name.
    public func schedules() async throws -> [ScheduleInfo] {
        let names = try await pool.command("SMEMBERS", keys.schedules).array?.compactMap(\.string) ?? []
        return try await schedules(names: names.sorted())
    }

    private func schedules(names: [String]) async throws -> [ScheduleInfo] {
        guard !names.isEmpty else { return [] }
        let replies = try await pool.pipeline([["TIME"]] + names.map { ["HGETALL", keys.schedule($0)] })
        let now = Self.date(milliseconds: Self.milliseconds(time: replies[0]))
        let rows = replies.dropFirst().compactMap { $0.fieldMap }.filter { !$0.isEmpty }
        let runIDs = rows.map { $0["last_run_id"] ?? "" }
        guard !rows.isEmpty else { return [] }
        let states = try await pool.pipeline(runIDs.map { ["HGET", keys.job($0.isEmpty ? "-" : $0), "state"] })
        return zip(rows, states).compactMap { fields, state in
            guard let schedule = Schedule(fields: fields) else { return nil }
            let paused = fields["paused"] == "1"
            let spec = try? schedule.spec()
            return ScheduleInfo(
                schedule: schedule, paused: paused,
                nextFireTimes: paused ? [] : spec?.nextFireTimes(after: now, count: 5) ?? [],
                lastTick: fields["last_tick"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) },
                lastRunID: fields["last_run_id"], lastRunState: state.string.flatMap(JobState.init),
                runs: fields["runs"].flatMap { Int($0) } ?? 0, skipped: fields["skipped"].flatMap { Int($0) } ?? 0,
                misfired: fields["misfired"].flatMap { Int($0) } ?? 0)
        }
    }

    /// Fires every schedule that is due by Redis's clock: each tick enqueues one job, whatever the
    /// number of callers (see `Lua/fire-schedule-4.lua`). A schedule late by more than
    /// `graceMilliseconds` (no promoter ran) follows its misfire policy, running at most
    /// `catchUpLimit` missed ticks.
    public func fireDueSchedules(batch: Int = 100, graceMilliseconds: Int = 2_000, catchUpLimit: Int = 100) async throws
        -> ScheduleFiring
    {
        var firing = ScheduleFiring(fired: 0, skipped: 0, nextDueMilliseconds: nil)
        for _ in 0..<5 {
            let replies = try await pool.pipeline([["TIME"], ["ZRANGE", keys.schedulesDue, 0, max(1, batch) - 1, "WITHSCORES"]])
            let now = Self.milliseconds(time: replies[0])
            let flat = try replies[1].throwingServerError().array ?? []
            var due: [(name: String, score: Int)] = []
            firing.nextDueMilliseconds = nil
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                guard let name = flat[index].string, let score = flat[index + 1].string.flatMap(Double.init).map({ Int($0) }) else {
                    continue
                }
                if score <= now {
                    due.append((name, score))
                } else {
                    firing.nextDueMilliseconds = score - now
                    break
                }
            }
            if due.isEmpty { return firing }
            for (name, score) in due {
                let (fired, skipped) = try await fire(name: name, score: score, now: now, grace: graceMilliseconds, limit: catchUpLimit)
                firing.fired += fired
                firing.skipped += skipped
            }
        }
        firing.nextDueMilliseconds = 0
        return firing
    }

    /// Fires the due ticks of one schedule whose due score is `score`.
    private func fire(name: String, score: Int, now: Int, grace: Int, limit: Int) async throws -> (fired: Int, skipped: Int) {
        let fields = try await pool.command("HGETALL", keys.schedule(name)).fieldMap ?? [:]
        let version = fields["version"] ?? ""
        let parsed = Result { () throws(ConveyorError) -> (Schedule, ScheduleSpec) in
            guard let schedule = Schedule(fields: fields) else {
                throw ConveyorError(.invalidArgument, "the stored definition is incomplete")
            }
            return (schedule, try schedule.spec())
        }
        guard case .success(let (schedule, spec)) = parsed else {
            // Gone, or a definition this version cannot read: leave the due set, so it is not retried
            // (and logged) at every pass; upserting a valid definition puts it back.
            let reply = try await fireScheduleScript(
                name: name, version: version, tick: 0, next: -1, id: "", ttl: 0, mode: "advance", expected: score)
            if !fields.isEmpty, reply.status == "advanced", case .failure(let error) = parsed {
                logger.error(
                    "schedule \(name) no longer parses and will not fire until it is redefined: \(error.message)",
                    metadata: ["schedule": .string(name), "expression": .string(fields["expression"] ?? "")])
            }
            return (0, 0)
        }
        var ticks: [Int] = []
        var next: Int?
        if now - score <= grace {
            ticks = [score]
            var cursor = Self.date(milliseconds: score)
            while ticks.count < max(1, limit), let tick = spec.nextFire(after: cursor), Self.milliseconds(tick) <= now {
                ticks.append(Self.milliseconds(tick))
                cursor = tick
            }
            next = spec.nextFire(after: Self.date(milliseconds: ticks[ticks.count - 1])).map(Self.milliseconds)
        } else {
            let plan = spec.misfires(
                lastFired: Self.date(milliseconds: score - 1), now: Self.date(milliseconds: now), policy: schedule.misfire, limit: limit)
            ticks = plan.missed.map(Self.milliseconds)
            next = plan.next.map(Self.milliseconds)
            if plan.dropped {
                let reply = try await fireScheduleScript(
                    name: name, version: version, tick: 0, next: ticks.first ?? next ?? -1, id: "", ttl: 0, mode: "advance",
                    expected: score)
                guard reply.status == "advanced" else { return (0, 0) }
            }
        }
        var fired = 0
        var skipped = 0
        for (index, tick) in ticks.enumerated() {
            let following = index + 1 < ticks.count ? ticks[index + 1] : (next ?? -1)
            let ttl = min(86_400_000, max(60_000, following > tick ? 2 * (following - tick) : 60_000))
            let reply = try await fireScheduleScript(
                name: name, version: version, tick: tick, next: following, id: JobID.make(), ttl: ttl, mode: "tick", expected: 0)
            switch reply.status {
            case "fired": fired += 1
            case "skipped": skipped += 1
            case "claimed": continue
            default: return (fired, skipped)  // stale, paused or gone: the next pass re-reads it
            }
        }
        return (fired, skipped)
    }

    private func fireScheduleScript(
        name: String, version: String, tick: Int, next: Int, id: String, ttl: Int, mode: String, expected: Int
    ) async throws -> (status: String, id: String) {
        let reply = try await scripts.fireSchedule.run(
            on: pool, keys: [keys.schedule(name), keys.schedulesDue, keys.stats, keys.events],
            arguments: [keys.prefix, configuration.eventsHardMaxLength, name, version, tick, next, id, ttl, mode, expected])
        let parts = reply.array?.compactMap(\.string) ?? []
        return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
    }

    private func runScheduleAdmin(_ action: String, _ name: String, next: Int = -1, fields: [String] = []) async throws -> Int {
        guard Names.isValid(name) else {
            throw ConveyorError(.invalidArgument, "schedule name '\(name)' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        let reply = try await scripts.scheduleAdmin.run(
            on: pool, keys: [keys.schedule(name), keys.schedulesDue, keys.schedules, keys.promoterWake],
            arguments: [action, name, String(next)] + fields)
        return reply.int ?? 0
    }

    /// Redis's clock, which every promoter shares.
    func redisNow() async throws -> Date {
        Self.date(milliseconds: Self.milliseconds(time: try await pool.command("TIME")))
    }

    static func milliseconds(time reply: RedisValue) -> Int {
        let parts = reply.array?.compactMap(\.int) ?? []
        guard parts.count == 2 else { return milliseconds(Date()) }
        return parts[0] * 1000 + parts[1] / 1000
    }

    static func milliseconds(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1000).rounded()) }

    static func date(milliseconds: Int) -> Date { Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000) }
}
