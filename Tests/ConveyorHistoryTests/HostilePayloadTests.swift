import Conveyor
import ConveyorHistory
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// Payloads valid for the API that BSON or MongoDB cannot take as they are. Each runs as an `echo`
/// job (so its result is just as hostile), followed by normal jobs: every event must reach MongoDB,
/// and the history must give the payload and result back as they were sent.
@Suite("History: hostile payloads", .serialized)
struct HostilePayloadTests {
    static let deep = String(repeating: "[", count: 150) + String(repeating: "]", count: 150)

    static let table: [(name: String, payload: String)] = [
        ("empty key", #"{"":0}"#),
        ("empty key, nested", #"{"a":{"b":[{"":{"":1}}]}}"#),
        ("NUL in a key", #"{"a\u0000b":1}"#),
        ("NUL key", #"{"\u0000":"\u0000"}"#),
        ("NUL in a value", #"{"s":"a\u0000b"}"#),
        ("dollar key", #"{"$set":{"x":1},"$where":"1"}"#),
        ("dotted key", #"{"a.b":1,"..":2}"#),
        ("repeated key", #"{"a":1,"a":2}"#),
        ("lone surrogate", #"{"s":"\ud800"}"#),
        ("integer past 64 bits", #"{"n":123456789012345678901234567890}"#),
        ("2^53 + 1", #"{"n":9007199254740993}"#),
        ("trailing zero", #"{"n":1.10}"#),
        ("negative zero", #"{"n":-0}"#),
        ("exponent", #"{"n":1e3,"m":2.5E-7}"#),
        ("nested 150 deep", deep),
        ("array of hostile objects", #"[{"":1},{"$":2}]"#),
        ("plain string", #""just text""#),
        ("_id key", #"{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}}"#),
    ]

    @Test func everyHostilePayloadIsStoredAndNothingAfterItIsBlocked() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                var hostile: [(name: String, payload: String, id: String)] = []
                var normal: [String] = []
                for (name, payload) in Self.table {
                    let id = try await broker.enqueue(EnqueueRequest(type: "echo", payload: payload)).id
                    hostile.append((name, payload, id))
                    for index in 0..<2 {
                        normal.append(try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"i":\#(index)}"#)).id)
                    }
                }
                try await withServices([historyWriter(broker, mongo, batch: 7)]) {
                    try await withWorker(broker) { _ in
                        for job in hostile { try await waitForState(broker, job.id, .succeeded) }
                        for id in normal { try await waitForState(broker, id, .succeeded) }
                    }
                    try await expectHistoryComplete(broker, mongo)
                }
                let jobs = mongo.collection("jobs")
                for id in normal {
                    let document = try #require(try await jobs.findOne(["_id": .string(id)]), "normal job \(id) missing")
                    #expect(document["state"] == "succeeded")
                    #expect(document["payload"]?.documentValue?["i"]?.intValue != nil, "a normal payload stays a document")
                }
                for job in hostile {
                    let document = try #require(try await jobs.findOne(["_id": .string(job.id)]), "\(job.name): no document")
                    #expect(document["state"] == "succeeded", "\(job.name)")
                    let shown = document.historyJSONObject
                    let expected = JSONText.string(try #require(RawJSON(job.payload)))
                    #expect(JSONText.string(try #require(shown["payload"])) == expected, "\(job.name): payload changed")
                    #expect(JSONText.string(try #require(shown["result"])) == expected, "\(job.name): result changed")
                    #expect(shown["payload_json"] == nil && shown["result_json"] == nil)
                    let events = try await mongo.collection("job_events").find(["job": .string(job.id)], sort: ["_id": 1])
                    #expect(events.compactMap { $0["event"]?.stringValue } == ["enqueued", "started", "succeeded"], "\(job.name)")
                    let enqueued = try #require(events.first?.historyJSONObject)
                    #expect(JSONText.string(try #require(enqueued["payload"])) == expected, "\(job.name): event payload changed")
                }
                #expect(try await mongo.collection("history_errors").countDocuments() == 0)
            }
        }
    }

    @Test func exactBSONIsRefusedForWhatItCannotHold() throws {
        for (name, payload) in Self.table where !["plain string", "2^53 + 1", "NUL in a value"].contains(name) {
            #expect(BSONValue.exact(jsonText: payload) == nil, "\(name) should be kept as text")
        }
        #expect(BSONValue.exact(jsonText: #"{"a":[1,-2,2147483648,2.5,0.1,true,null,"x"],"b":{"c":"d"}}"#) != nil)
        #expect(BSONValue.exact(jsonText: #""just text""#) == .string("just text"))
    }

    /// An entry MongoDB refuses whatever its form (a field name with NUL, which no BSON key can hold,
    /// added to the stream by something other than Conveyor's scripts) is kept in `history_errors`,
    /// counted, and acknowledged; the jobs after it are written.
    @Test func anEntryMongoDBRefusesIsIsolatedAndCounted() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let before = try await broker.enqueue(EnqueueRequest(type: "noop")).id
                let bad = try await broker.pool.command(
                    "XADD", broker.keys.events, "*", "job", "intruder", "event", "note", "bad\u{0}name", "x"
                ).string
                var after: [String] = []
                for _ in 0..<5 { after.append(try await broker.enqueue(EnqueueRequest(type: "noop")).id) }
                try await withServices([historyWriter(broker, mongo, batch: 4)]) {
                    try await withWorker(broker) { _ in
                        for id in [before] + after { try await waitForState(broker, id, .succeeded) }
                    }
                    try await eventually(timeout: 30, "events after the refused one never reached MongoDB") {
                        let stored = try await mongo.collection("jobs").countDocuments(["state": "succeeded"])
                        return stored == 6
                    }
                    try await eventually(timeout: 30, "entries still pending in the group") {
                        try await broker.pool.command("XPENDING", broker.keys.events, "history").array?.first?.int == 0
                    }
                }
                let errors = try await mongo.collection("history_errors").find()
                #expect(errors.count == 1)
                let error = try #require(errors.first)
                #expect(error["_id"]?.stringValue == bad)
                #expect(error["job"] == "intruder")
                #expect(error["error"]?.stringValue?.isEmpty == false)
                let raw = try #require(error["raw"]?.stringValue)
                let fields = try #require(jsonObject(raw) as? [String: String])
                #expect(fields["bad\u{0}name"] == "x")
                let counted = try await broker.pool.command("HGET", broker.keys.stats, HistoryWriter.refusedStatsField).string
                #expect(counted == "1")
                #expect(try await mongo.collection("job_events").countDocuments() == (try await events(broker).count) - 1)
            }
        }
    }
}
