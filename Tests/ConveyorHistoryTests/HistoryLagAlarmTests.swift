import Conveyor
import ConveyorHistory
import ConveyorTestSupport
import Foundation
import Logging
import RedisClient
import Testing

/// A stream status with this lag against a cap of 1,000.
private func status(lag: Int?) -> EventStreamStatus {
    EventStreamStatus(length: 1_000, maxLength: 1_000, historyLag: lag, historyPending: 0, historyGroupExists: true)
}

@Suite("History: lag alarm decisions")
struct HistoryLagAlarmTests {
    @Test func criticalAtTheThresholdAtMostOncePerIntervalThenOneNotice() {
        var alarm = HistoryLagAlarm(threshold: 0.8, interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(alarm.observe(status(lag: 0), now: start) == .quiet)
        #expect(alarm.observe(status(lag: 799), now: start + .seconds(1)) == .quiet)
        #expect(alarm.observe(status(lag: 800), now: start + .seconds(2)) == .critical(lag: 800, maxLength: 1_000))
        #expect(alarm.isAlarming)
        // Still over: quiet until the interval has passed since the last critical.
        #expect(alarm.observe(status(lag: 950), now: start + .seconds(5)) == .quiet)
        #expect(alarm.observe(status(lag: 990), now: start + .milliseconds(11_999)) == .quiet)
        #expect(alarm.observe(status(lag: 990), now: start + .seconds(12)) == .critical(lag: 990, maxLength: 1_000))
        // An unknown lag says nothing and changes nothing.
        #expect(alarm.observe(status(lag: nil), now: start + .seconds(30)) == .quiet)
        #expect(alarm.isAlarming)
        // Back under: one notice, then quiet.
        #expect(alarm.observe(status(lag: 500), now: start + .seconds(31)) == .recovered(lag: 500, maxLength: 1_000))
        #expect(!alarm.isAlarming)
        #expect(alarm.observe(status(lag: 100), now: start + .seconds(32)) == .quiet)
        // A new episode starts with a critical at once.
        #expect(alarm.observe(status(lag: 900), now: start + .seconds(33)) == .critical(lag: 900, maxLength: 1_000))
    }

    @Test func unknownLagOrNoCapNeverAlarms() {
        var alarm = HistoryLagAlarm()
        let now = ContinuousClock.now
        #expect(alarm.observe(status(lag: nil), now: now) == .quiet)
        let noCap = EventStreamStatus(length: 5, maxLength: 0, historyLag: 5, historyPending: 0, historyGroupExists: true)
        #expect(alarm.observe(noCap, now: now) == .quiet)
        #expect(!alarm.isAlarming)
    }
}

@Suite("History: the writer's lag alarm")
struct HistoryWriterLagAlarmTests {
    @Test func aWriterThatCannotKeepUpLogsCriticalThenNoticeOnceCaughtUp() async throws {
        // MongoDB unreachable (nothing listens on the port): the writer reads nothing, the lag stays.
        let mongo = try MongoClient(
            configuration: MongoConfiguration(url: "mongodb://127.0.0.1:\(try freePort())/lag?serverSelectionTimeoutMS=200", threads: 1))
        try await withBroker(configure: { $0.eventsMaxLength = 100 }) { broker in
            // One stream entry per call: 90 entries of the cap's 100.
            for _ in 0..<90 { _ = try await broker.enqueue(EnqueueRequest(type: "noop")) }
            try await broker.pool.command("XGROUP", "CREATE", broker.keys.events, "history", "0")
            let logs = CapturedLogs()
            let writer = HistoryWriter(
                broker: broker, mongo: mongo, options: HistoryWriterOptions(lagCheckInterval: .milliseconds(100)), logger: logs.logger)
            try await withServices([writer]) {
                try await eventually(timeout: 10, "no critical log") { !logs.messages(.critical).isEmpty }
                #expect(logs.messages(.critical)[0].contains("90 % of the event stream's cap behind"))
                // What catching up looks like to the alarm: the group's position moves to the end.
                try await broker.pool.command("XGROUP", "SETID", broker.keys.events, "history", "$")
                try await eventually(timeout: 10, "no notice after the lag went away") {
                    logs.messages(.notice).contains { $0.contains("lag is back under 80 %") }
                }
                let criticals = logs.messages(.critical).count
                try await Task.sleep(for: .milliseconds(500))
                #expect(logs.messages(.critical).count == criticals)
                #expect(logs.messages(.notice).filter { $0.contains("lag is back") }.count == 1)
            }
        }
        await mongo.close()
    }
}
