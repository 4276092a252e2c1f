import ConveyorServer
import Testing

/// The per-socket buffer's rules, without Redis or sockets: bounded, gap after drops, newest stats
/// only, close after staying full, no duplicate after a replay.
@Suite("Event feed: the per-socket buffer")
struct SubscriberBufferTests {
    func frames(_ range: ClosedRange<UInt64>) -> [EventFrame] {
        range.map { EventFrame(text: "e\($0)", position: StreamPosition(milliseconds: $0, sequence: 0)) }
    }

    func gap(_ missed: Int, _ resume: StreamPosition?) -> EventFrame {
        EventFrame(text: "gap \(missed) \(resume?.description ?? "-")")
    }

    @Test func queuesThenDropsAndReportsAGap() {
        var buffer = SubscriberBuffer(capacity: 3, closeAfter: .seconds(60))
        let now = ContinuousClock.now
        #expect(buffer.offer(events: frames(1...2), now: now) == .wake)
        #expect(buffer.offer(events: frames(3...6), now: now) == .none)
        #expect(buffer.missed == 3)
        #expect(buffer.take(gap: gap).map(\.text) == ["e1", "e2", "e3", "gap 3 3-0"])
        #expect(!buffer.hasFrames)
        #expect(buffer.offer(events: frames(7...7), now: now) == .wake)
        #expect(buffer.take(gap: gap).map(\.text) == ["e7"])
    }

    @Test func keepsOnlyTheNewestStats() {
        var buffer = SubscriberBuffer(capacity: 3)
        #expect(buffer.offer(stats: EventFrame(text: "s1")) == .wake)
        #expect(buffer.offer(stats: EventFrame(text: "s2")) == .none)
        #expect(buffer.offer(events: frames(1...1), now: .now) == .none)
        #expect(buffer.take(gap: gap).map(\.text) == ["e1", "s2"])
    }

    @Test func closesASocketThatStaysFull() {
        var buffer = SubscriberBuffer(capacity: 2, closeAfter: .seconds(5))
        let start = ContinuousClock.now
        _ = buffer.offer(events: frames(1...2), now: start)
        #expect(buffer.offer(events: frames(3...3), now: start + .seconds(4)) == .none)
        #expect(buffer.offer(events: frames(4...4), now: start + .seconds(6)) == .close)
        #expect(buffer.closed)
        #expect(buffer.offer(events: frames(5...5), now: start + .seconds(7)) == .none)
    }

    @Test func takingResetsTheFullClock() {
        var buffer = SubscriberBuffer(capacity: 2, closeAfter: .seconds(5))
        let start = ContinuousClock.now
        _ = buffer.offer(events: frames(1...2), now: start)
        _ = buffer.take(gap: gap)
        _ = buffer.offer(events: frames(3...4), now: start + .seconds(6))
        #expect(buffer.offer(events: frames(5...5), now: start + .seconds(7)) == .none)
    }

    @Test func skipsLiveEventsAReplayAlreadySent() {
        var buffer = SubscriberBuffer(capacity: 10)
        _ = buffer.offer(events: frames(4...8), now: .now)
        buffer.replayed(through: StreamPosition(milliseconds: 6, sequence: 0))
        #expect(buffer.take(gap: gap).map(\.text) == ["e7", "e8"])
        #expect(buffer.lastSent == StreamPosition(milliseconds: 8, sequence: 0))
    }

    @Test func streamPositionsParseAndOrder() {
        #expect(StreamPosition("1718000000000-3") == StreamPosition(milliseconds: 1_718_000_000_000, sequence: 3))
        #expect(StreamPosition("12") == StreamPosition(milliseconds: 12, sequence: 0))
        for bad in ["", "-", "a-1", "1-b", "1-2-3", "+1", "１-2"] { #expect(StreamPosition(bad) == nil, "\(bad)") }
        #expect(StreamPosition("1-9")! < StreamPosition("1-10")!)
        #expect(StreamPosition("2-0")! > StreamPosition("1-10")!)
    }

    @Test func filtersParseAndRefuseBadValues() throws {
        let filter = try EventFilter(query: [("kinds", "job"), ("states", "dead,succeeded"), ("type", "email"), ("since", "5-1")])
        #expect(filter.kinds == [.job] && filter.states == ["dead", "succeeded"] && filter.type == "email")
        #expect(filter.since == StreamPosition(milliseconds: 5, sequence: 1))
        for (name, value) in [("kinds", "jobs"), ("states", "done"), ("queue", "a b"), ("since", "now"), ("color", "red"), ("job", "")] {
            #expect(throws: APIProblem.self, "\(name)=\(value)") { try EventFilter(query: [(name, value)]) }
        }
        #expect(throws: APIProblem.self) { try EventFilter(query: [("type", "a"), ("type", "b")]) }
    }
}
