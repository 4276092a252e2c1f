import ConveyorHistory
import ConveyorTestSupport
import Foundation
import Testing

/// Runs `body` with a client on a fresh database of the shared server, then drops it and closes.
func withMongo<T>(threads: Int = 4, _ body: (MongoClient) async throws -> T) async throws -> T {
    let client = try await TestMongo.shared.client(threads: threads)
    do {
        let result = try await body(client)
        try? await client.dropDatabase()
        await client.close()
        return result
    } catch {
        try? await client.dropDatabase()
        await client.close()
        throw error
    }
}

@Suite("History: MongoDB client")
struct MongoClientTests {
    @Test func pingsAndReportsAVersion() async throws {
        try await withMongo { client in
            try await client.ping()
            #expect(!(try await client.serverVersion()).isEmpty)
            #expect(client.databaseName.hasPrefix("test_"))
        }
    }

    @Test func documentsRoundTripThroughTheServer() async throws {
        try await withMongo { client in
            let events = client.collection("events")
            // The server puts `_id` first (as mongod does), so the test does too.
            var document: Document = ["_id": "one"]
            for (key, value) in BSONTests.everyType.elements { document[key] = value }
            document["payload"] = try BSONValue(jsonText: #"{"to":"ü@例え.jp","items":[{"n":1},{"n":2.5}],"flag":null}"#)
            document["big"] = .string(String(repeating: "z", count: 2_000_000))
            try await events.insertMany([document])
            let found = try await events.find(["_id": "one"])
            #expect(found.count == 1)
            let stored = try #require(found.first)
            #expect(stored.keys == document.keys)
            for key in document.keys where key != "big" {
                #expect(stored[key] == document[key], "\(key)")
            }
            #expect(stored["big"] == document["big"])
            #expect(found.first?["date"]?.dateValue == Date(timeIntervalSince1970: 1_700_000_000.123))
            #expect(found.first?["payload"]?.jsonText == #"{"to":"ü@例え.jp","items":[{"n":1},{"n":2.5}],"flag":null}"#)
        }
    }

    @Test func bulkUpsertAndDuplicateInsertsAreSkipped() async throws {
        try await withMongo { client in
            let events = client.collection("job_events")
            let jobs = client.collection("jobs")
            try await events.insertMany([["_id": "1-0", "job": "a"], ["_id": "2-0", "job": "a"]])
            // A redelivered batch: 1-0 again, plus new ones.
            let result = try await events.insertMany([
                ["_id": "1-0", "job": "a"], ["_id": "3-0", "job": "b"], ["_id": "4-0", "job": "b"],
            ])
            #expect(result.insertedCount == 2)
            #expect(result.duplicateKeyErrors.count == 1)
            #expect(result.duplicateKeyErrors.first?.index == 0)
            #expect(result.duplicateKeyErrors.first?.isDuplicateKey == true)
            #expect(try await events.countDocuments() == 4)

            let upserts: [WriteModel] = [
                .updateOne(filter: ["_id": "a"], update: ["$set": ["state": "queued"], "$setOnInsert": ["created": 1]], upsert: true),
                .updateOne(filter: ["_id": "b"], update: ["$set": ["state": "running"]], upsert: true),
                .updateOne(
                    filter: ["_id": "a"], update: ["$set": ["state": "succeeded"], "$push": ["attempts": ["worker": "w1"]]], upsert: true),
            ]
            let written = try await jobs.bulkWrite(upserts)
            #expect(written.upsertedCount == 2)
            #expect(written.matchedCount == 1)
            #expect(written.upsertedIDs[0] == "a")
            let a = try await jobs.findOne(["_id": "a"])
            #expect(a?["state"] == "succeeded")
            #expect(a?["created"] == 1)
            #expect(a?["attempts"] == [["worker": "w1"]])

            // A mixed bulk: an upsert, a duplicate insert and a fresh insert, unordered.
            let mixed = try await events.bulkWrite([
                .insertOne(["_id": "2-0", "job": "a"]), .updateOne(filter: ["_id": "5-0"], update: ["$set": ["job": "c"]], upsert: true),
                .insertOne(["_id": "6-0", "job": "c"]),
            ])
            #expect(mixed.insertedCount == 1)
            #expect(mixed.upsertedCount == 1)
            #expect(mixed.duplicateKeyErrors.map(\.index) == [0])
            #expect(try await events.countDocuments() == 6)
        }
    }

    @Test func orderedDuplicateThrowsWithCodeAndMessage() async throws {
        try await withMongo { client in
            let events = client.collection("job_events")
            try await events.insertMany([["_id": 1]])
            let error = await #expect(throws: HistoryError.self) {
                try await events.insertMany([["_id": 2], ["_id": 1], ["_id": 3]], ordered: true)
            }
            #expect(error?.isDuplicateKey == true)
            #expect(error?.writeErrors.first?.code == 11000)
            #expect(error?.message.isEmpty == false)
            #expect(try await events.countDocuments() == 2)
        }
    }

    @Test func serverErrorsCarryDomainCodeAndMessage() async throws {
        try await withMongo { client in
            let error = await #expect(throws: HistoryError.self) { try await client.runCommand(["noSuchCommand": 1]) }
            #expect(error?.domain == HistoryError.serverDomain)
            #expect(error?.code == 59)
            #expect(error?.message.isEmpty == false)
            let bad = await #expect(throws: HistoryError.self) { try await client.collection("x").find(["$bogus": 1]) }
            #expect(bad?.code != 0)
            #expect(bad?.message.isEmpty == false)
        }
    }

    @Test func invalidURLAndClosedClientThrow() async throws {
        let invalid = #expect(throws: HistoryError.self) { try MongoClient(configuration: MongoConfiguration(url: "nonsense://x")) }
        #expect(invalid?.code == HistoryError.invalidURLCode)
        let client = try await TestMongo.shared.client(threads: 1)
        await client.close()
        let closed = await #expect(throws: HistoryError.self) { try await client.ping() }
        #expect(closed?.code == HistoryError.closedCode)
    }

    @Test func findFiltersSortsLimitsAndProjects() async throws {
        try await withMongo { client in
            let jobs = client.collection("jobs")
            let states = ["queued", "running", "succeeded", "dead"]
            try await jobs.insertMany(
                (0..<40).map { index in
                    [
                        "_id": .string("job-\(index)"), "state": .string(states[index % 4]), "n": BSONValue(index),
                        "created": .date(milliseconds: Int64(index * 1000)),
                    ]
                })
            let page = try await jobs.find(["state": "succeeded"], sort: ["n": -1], limit: 3, projection: ["n": 1])
            #expect(page == [["_id": "job-38", "n": 38], ["_id": "job-34", "n": 34], ["_id": "job-30", "n": 30]])
            let next = try await jobs.find(["state": "succeeded", "n": ["$lt": 30]], sort: ["n": -1], limit: 3)
            #expect(next.compactMap { $0["n"]?.intValue } == [26, 22, 18])
            let range = try await jobs.find(
                ["created": ["$gte": .date(milliseconds: 10_000), "$lt": .date(milliseconds: 13_000)]], sort: ["n": 1])
            #expect(range.compactMap { $0["n"]?.intValue } == [10, 11, 12])
            let skipped = try await jobs.find([:], sort: ["n": 1], limit: 2, skip: 5)
            #expect(skipped.compactMap { $0["n"]?.intValue } == [5, 6])
            #expect(try await jobs.countDocuments(["state": ["$in": ["queued", "dead"]]]) == 20)
            #expect(try await jobs.find(["state": "nope"]).isEmpty)
        }
    }

    @Test func aggregateMatchesAndGroups() async throws {
        try await withMongo { client in
            let jobs = client.collection("jobs")
            try await jobs.insertMany(
                (0..<30).map { index in
                    [
                        "_id": BSONValue(index), "type": index % 3 == 0 ? "email" : "resize",
                        "state": index % 5 == 0 ? "dead" : "succeeded", "ms": BSONValue(index),
                    ]
                })
            let byType = try await jobs.aggregate([
                ["$match": ["state": "succeeded"]],
                ["$group": ["_id": "$type", "count": ["$sum": 1], "total": ["$sum": "$ms"]]],
                ["$sort": ["_id": 1]],
            ])
            // succeeded = not a multiple of 5; email = multiples of 3.
            let succeeded = (0..<30).filter { $0 % 5 != 0 }
            let email = succeeded.filter { $0 % 3 == 0 }
            let resize = succeeded.filter { $0 % 3 != 0 }
            #expect(byType.count == 2)
            #expect(byType[0]["_id"] == "email")
            #expect(byType[0]["count"]?.intValue == email.count)
            #expect(byType[0]["total"]?.intValue == email.reduce(0, +))
            #expect(byType[1]["_id"] == "resize")
            #expect(byType[1]["count"]?.intValue == resize.count)
            #expect(byType[1]["total"]?.intValue == resize.reduce(0, +))
        }
    }

    @Test func indexesAreIdempotentWithTTLUniqueAndPartial() async throws {
        try await withMongo { client in
            let jobs = client.collection("jobs")
            let indexes = [
                IndexModel(keys: ["state": 1, "updated": -1]),
                IndexModel(keys: ["unique_key": 1], unique: true, partialFilter: ["unique_key": ["$exists": true]]),
                IndexModel(keys: ["finished": 1], name: "finished_ttl", expireAfterSeconds: 30 * 86_400),
            ]
            try await jobs.createIndexes(indexes)
            try await jobs.createIndexes(indexes)
            let listed = try await jobs.listIndexes()
            let byName = Dictionary(uniqueKeysWithValues: listed.compactMap { index in index["name"]?.stringValue.map { ($0, index) } })
            #expect(Set(byName.keys) == ["_id_", "state_1_updated_-1", "unique_key_1", "finished_ttl"])
            #expect(byName["state_1_updated_-1"]?["key"] == ["state": 1, "updated": -1])
            #expect(byName["finished_ttl"]?["expireAfterSeconds"]?.intValue == 30 * 86_400)
            #expect(byName["unique_key_1"]?["unique"] == true)
            #expect(byName["unique_key_1"]?["partialFilterExpression"] == ["unique_key": ["$exists": true]])
            // The unique index holds.
            try await jobs.insertMany([["_id": 1, "unique_key": "k"], ["_id": 2], ["_id": 3]])
            let duplicate = try await jobs.insertMany([["_id": 4, "unique_key": "k"]])
            #expect(duplicate.duplicateKeyErrors.count == 1)
            try await jobs.drop()
            try await jobs.drop()
            #expect(try await jobs.listIndexes().isEmpty)
        }
    }

    @Test func concurrentCallsFromManyTasksComplete() async throws {
        try await withMongo(threads: 4) { client in
            let events = client.collection("events")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        for step in 0..<10 {
                            try await events.insertMany([["_id": .string("\(task)-\(step)"), "task": BSONValue(task)]])
                            #expect(try await events.countDocuments(["task": BSONValue(task)]) == step + 1)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await events.countDocuments() == 500)
        }
    }

    @Test func clientReconnectsAfterTheServerRestarts() async throws {
        let server = try TestMongo()
        try await server.start()
        defer { Thread { server.stop() }.start() }
        let client = try MongoClient(configuration: MongoConfiguration(url: server.url(database: "restart"), threads: 2))
        let events = client.collection("events")
        try await events.insertMany([["_id": 1]])
        try await onThread { server.stop() }
        let down = await #expect(throws: HistoryError.self) { try await events.insertMany([["_id": 2]]) }
        #expect(down?.isNetwork == true)
        try await server.start()
        // libmongoc notices the server is back within a heartbeat; no new client is needed.
        let deadline = Date().addingTimeInterval(20)
        var written = false
        while !written, Date() < deadline {
            written = (try? await events.insertMany([["_id": 2]])) != nil
            if !written { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(written)
        #expect(try await events.countDocuments() == 2)
        await client.close()
    }
}
