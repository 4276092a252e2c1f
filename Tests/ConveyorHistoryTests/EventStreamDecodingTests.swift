import Conveyor
import ConveyorHistory
import ConveyorTestSupport
import RedisClient
import Testing

/// A stream entry as XRANGE returns it.
private func entry(_ id: String, _ fields: [String]) -> RedisValue {
    .array([.bulk(Array(id.utf8)), .array(fields.map { .bulk(Array($0.utf8)) })])
}

@Suite("History: decoding the event stream (one entry per script call)")
struct EventStreamDecodingTests {
    @Test("an entry's events get ids that sort like the events, with the entry's shared time")
    func eventsOfOneEntry() {
        let events = HistoryEvent.decode(
            .array([
                entry(
                    "1700000000000-2",
                    ["ts", "1700000000000", "job", "a", "event", "started", "attempt", "1", "job", "b", "event", "started", "attempt", "2"]),
                entry("1700000000001-0", ["ts", "1700000000001", "job", "", "event", "paused", "queue", "mail"]),
            ]))
        #expect(events.map(\.id) == ["1700000000000-2000", "1700000000000-2001", "1700000000001-0"])
        #expect(events.map(\.entryID) == ["1700000000000-2", "1700000000000-2", "1700000000001-0"])
        #expect(events[0].fields == ["ts": "1700000000000", "job": "a", "event": "started", "attempt": "1"])
        #expect(events[1].fields == ["ts": "1700000000000", "job": "b", "event": "started", "attempt": "2"])
        // A queue event: no job field at all, as before events were batched.
        #expect(events[2].fields == ["ts": "1700000000001", "event": "paused", "queue": "mail"])
        #expect(events[2].job == nil)
        #expect(events.map(\.orderKey) == events.map(\.orderKey).sorted())
    }

    @Test("an entry in the old layout (one event, no leading ts) and an emptied pending entry are one event each")
    func oldAndEmptyEntries() {
        let events = HistoryEvent.decode(
            .array([
                entry("5-0", ["job", "j", "event", "enqueued", "ts", "5", "type", "t"]),
                entry("6-1", ["queue", "q", "event", "resumed", "ts", "6"]),
                .array([.bulk(Array("7-0".utf8)), .null]),
            ]))
        // Their ids stay the entries' own, as the history stored them before the upgrade.
        #expect(events.map(\.id) == ["5-0", "6-1", "7-0"])
        #expect(events[0].fields == ["job": "j", "event": "enqueued", "ts": "5", "type": "t"])
        #expect(events[1].fields == ["queue": "q", "event": "resumed", "ts": "6"])
        #expect(events[2].fields.isEmpty && events[2].entryID == "7-0")
    }

    @Test("a batch of 45 jobs is five entries of at most 10 events, and history, feed and stream agree on the ids")
    func aBatchIsSplitIntoEntries() async throws {
        try await withBroker { broker in
            let jobs = try await broker.enqueue(batch: (0..<45).map { EnqueueRequest(type: "noop", payload: #"{"i":\#($0)}"#) })
            #expect(try await broker.pool.command("XLEN", broker.keys.events).int == 5)
            let decoded = try await events(broker)
            #expect(decoded.compactMap { $0["job"] } == jobs.map(\.id))
            #expect(decoded.allSatisfy { $0["event"] == "enqueued" && $0["ts"] != nil && $0["payload"] != nil })
            let ids = decoded.compactMap { $0["_id"] }
            #expect(Set(ids).count == 45)
            #expect(
                ids.map { HistoryEvent(id: $0, fields: [:]).orderKey } == ids.map { HistoryEvent(id: $0, fields: [:]).orderKey }.sorted())
        }
    }
}
