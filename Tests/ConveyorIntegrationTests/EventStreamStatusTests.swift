import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

@Suite("Event stream status: length, history lag and pending from one round trip")
struct EventStreamStatusTests {
    @Test("no stream, then events without a group, then a group that reads and acknowledges some")
    func lagAndPendingFollowTheGroup() async throws {
        try await withBroker(configure: { $0.eventsMaxLength = 1_000 }) { broker in
            let empty = try await broker.eventStreamStatus()
            #expect(empty == EventStreamStatus(length: 0, maxLength: 1_000, historyLag: nil, historyPending: 0, historyGroupExists: false))
            #expect(empty.fillRatio == 0)

            // One stream entry per script call: ten enqueues, ten entries.
            for _ in 0..<10 { _ = try await broker.enqueue(EnqueueRequest(type: "noop")) }
            let noGroup = try await broker.eventStreamStatus()
            #expect(noGroup.length == 10)
            #expect(noGroup.historyLag == nil)
            #expect(!noGroup.historyGroupExists)
            #expect(noGroup.fillRatio == 0.01)

            // What a history writer does: create the group at the start, read a batch, acknowledge it.
            let key = broker.keys.events
            try await broker.pool.command("XGROUP", "CREATE", key, "history", "0")
            let created = try await broker.eventStreamStatus()
            #expect(created.historyGroupExists)
            #expect(created.historyLag == 10)
            #expect(created.historyPending == 0)
            #expect(created.historyLagRatio == 0.01)

            let read = try await broker.pool.command("XREADGROUP", "GROUP", "history", "w1", "COUNT", 6, "STREAMS", key, ">")
            let ids = (read.array?.first?.array?[1].array ?? []).compactMap { $0.array?.first?.string }
            #expect(ids.count == 6)
            let reading = try await broker.eventStreamStatus()
            #expect(reading.historyLag == 4)
            #expect(reading.historyPending == 6)
            try await broker.pool.command(["XACK", key, "history"] + Array(ids.prefix(4)))
            let acked = try await broker.eventStreamStatus()
            #expect(acked.historyLag == 4)
            #expect(acked.historyPending == 2)
            #expect(acked.length == 10)

            // Another group's figures are not the history writers'.
            try await broker.pool.command("XGROUP", "CREATE", key, "other", "$")
            #expect(try await broker.eventStreamStatus() == acked)
            #expect(try await broker.eventStreamStatus(group: "other").historyLag == 0)

            // An entry deleted after the group's position: Redis can no longer tell the lag.
            let last = try #require(
                try await broker.pool.command("XREVRANGE", key, "+", "-", "COUNT", 1).array?.first?.array?.first?.string)
            try await broker.pool.command("XDEL", key, last)
            let unknown = try await broker.eventStreamStatus()
            #expect(unknown.historyLag == nil)
            #expect(unknown.historyLagRatio == nil)
            #expect(unknown.historyPending == 2)
            #expect(unknown.length == 9)
        }
    }
}
