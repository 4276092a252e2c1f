import Conveyor
import ConveyorHistory
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// A writer on `broker` and `mongo` with a short claim timeout, quiet.
func historyWriter(_ broker: Broker, _ mongo: MongoClient, claimIdleMilliseconds: Int = 30_000, batch: Int = 1_000) -> HistoryWriter {
    HistoryWriter(
        broker: broker, mongo: mongo,
        options: HistoryWriterOptions(batch: batch, blockMilliseconds: 200, claimIdleMilliseconds: claimIdleMilliseconds),
        logger: quietLogger)
}

/// Waits until `job_events` holds exactly the stream's events (same ids), then checks the group has
/// nothing pending.
func expectHistoryComplete(_ broker: Broker, _ mongo: MongoClient, timeout: Double = 30) async throws {
    var streamCount = 0
    var mongoCount = 0
    // Counts first, polled gently; then the ids once.
    try await eventually(timeout: timeout, "history incomplete: \(streamCount) events in the stream, \(mongoCount) in MongoDB") {
        streamCount = try await events(broker).count
        mongoCount = (try? await mongo.collection("job_events").countDocuments()) ?? 0
        if mongoCount < streamCount { try await Task.sleep(for: .milliseconds(200)) }
        return mongoCount >= streamCount
    }
    let streamIDs = Set(try await events(broker).compactMap { $0["_id"] })
    let documents = try await mongo.collection("job_events").find([:], projection: ["_id": 1])
    #expect(documents.count == streamIDs.count)
    #expect(Set(documents.compactMap { $0["_id"]?.stringValue }) == streamIDs)
    try await eventually(timeout: timeout, "entries still pending in the group") {
        let pending = try await broker.pool.command("XPENDING", broker.keys.events, "history")
        return pending.array?.first?.int == 0
    }
}

@Suite("History: writer", .serialized)
struct HistoryWriterTests {
    @Test func everyTransitionIsWrittenOnceAndJobsShowEachAttempt() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let retry = RetryPolicy.fixed(milliseconds: 20)
                let echo = try await broker.enqueue(EnqueueRequest(type: "echo", payload: #"{"hello":"world","n":[1,2]}"#))
                let flaky = try await broker.enqueue(
                    EnqueueRequest(type: "fail", payload: #"{"times":1}"#, maxAttempts: 2, retryPolicy: retry))
                try await withServices([historyWriter(broker, mongo)]) {
                    try await withWorker(broker) { _ in
                        try await waitForState(broker, echo.id, .succeeded)
                        try await waitForState(broker, flaky.id, .succeeded)
                    }
                    try await expectHistoryComplete(broker, mongo)
                }
                let jobs = mongo.collection("jobs")
                let echoDocument = try #require(try await jobs.findOne(["_id": .string(echo.id)]))
                #expect(echoDocument["state"] == "succeeded")
                #expect(echoDocument["type"] == "echo")
                #expect(echoDocument["queue"] == "default")
                #expect(echoDocument["payload"]?.documentValue?["hello"] == "world")
                #expect(echoDocument["created_at"]?.dateValue != nil)
                #expect(echoDocument["finished_at"]?.dateValue != nil)
                #expect(echoDocument["attempts"]?.documentValue?["1"]?.documentValue?["outcome"] == "succeeded")

                let flakyDocument = try #require(try await jobs.findOne(["_id": .string(flaky.id)]))
                #expect(flakyDocument["state"] == "succeeded")
                #expect(flakyDocument["last_error"]?.stringValue?.contains("failing on purpose") == true)
                let attempts = try #require(flakyDocument["attempts"]?.documentValue)
                #expect(attempts.keys.sorted() == ["1", "2"])
                let first = try #require(attempts["1"]?.documentValue)
                let second = try #require(attempts["2"]?.documentValue)
                #expect(first["outcome"] == "failed")
                #expect(first["error"]?.stringValue?.contains("failing on purpose") == true)
                #expect(second["outcome"] == "succeeded")
                for attempt in [first, second] {
                    #expect(attempt["worker"]?.stringValue?.isEmpty == false)
                    #expect(attempt["started_at"]?.dateValue != nil)
                    #expect(attempt["finished_at"]?.dateValue != nil)
                    #expect(attempt["duration_ms"]?.intValue != nil)
                }
                let names = try await mongo.collection("job_events").find(["job": .string(flaky.id)], sort: ["_id": 1]).compactMap {
                    $0["event"]?.stringValue
                }
                #expect(names == ["enqueued", "started", "retrying", "queued", "started", "succeeded"])
                let indexes = try await jobs.listIndexes().compactMap { $0["name"]?.stringValue }
                // Created by the running writer: what the list and timeline queries filter and sort by.
                #expect(Set(indexes) == ["_id_", "state_1__id_-1", "type_1__id_-1", "queue_1__id_-1", "unique_key_1"])
                let state = try #require(try await jobs.listIndexes().first { $0["name"] == "state_1__id_-1" })
                #expect(state["key"]?.documentValue?.keys == ["state", "_id"])
                #expect(state["key"]?.documentValue?["_id"]?.intValue == -1)
                let eventIndexes = try await mongo.collection("job_events").listIndexes().compactMap { $0["name"]?.stringValue }
                #expect(Set(eventIndexes) == ["_id_", "job_1__id_1"])
            }
        }
    }

    /// Ids of one millisecond: `T-5` (event 5 of the first entry) comes before `T-1000` (event 0 of the
    /// second), though it sorts after it as text.
    @Test func aTimelineFollowsTheEventIdsAsNumbers() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let writer = historyWriter(broker, mongo)
                try await writer.writeToMongo([
                    HistoryEvent(id: "1000-1000", fields: ["job": "j", "event": "started", "ts": "1000", "attempt": "1", "worker": "w"]),
                    HistoryEvent(
                        id: "1000-5", fields: ["job": "j", "event": "enqueued", "ts": "1000", "state": "queued", "type": "t", "queue": "q"]),
                    HistoryEvent(
                        id: "1000-1001", fields: ["job": "j", "event": "succeeded", "ts": "1000", "attempt": "1", "duration_ms": "0"]),
                ])
                let timeline = try #require(try await HistoryQueries(mongo: mongo).job("j")).timeline
                #expect(timeline.compactMap { $0["_id"]?.stringValue } == ["1000-5", "1000-1000", "1000-1001"])
            }
        }
    }

    @Test func stateFollowsTheStreamOrderWhateverOrderEventsAreWrittenIn() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let writer = historyWriter(broker, mongo)
                let events = [
                    HistoryEvent(
                        id: "1000-0", fields: ["job": "j", "event": "enqueued", "ts": "1000", "state": "queued", "type": "t", "queue": "q"]),
                    HistoryEvent(id: "1001-0", fields: ["job": "j", "event": "started", "ts": "1001", "attempt": "1", "worker": "w"]),
                    HistoryEvent(
                        id: "1002-0",
                        fields: ["job": "j", "event": "retrying", "ts": "1002", "attempt": "1", "error": "e1", "duration_ms": "1"]),
                    HistoryEvent(id: "1003-0", fields: ["job": "j", "event": "queued", "ts": "1003", "from": "retrying"]),
                    HistoryEvent(id: "1004-0", fields: ["job": "j", "event": "started", "ts": "1004", "attempt": "2", "worker": "w"]),
                    HistoryEvent(
                        id: "1005-0",
                        fields: ["job": "j", "event": "dead", "ts": "1005", "attempt": "2", "error": "e2", "duration_ms": "1"]),
                ]
                // Newest first, one at a time, then everything again: the same document as in order.
                for event in events.reversed() { try await writer.writeToMongo([event]) }
                try await writer.writeToMongo(events)
                let document = try #require(try await mongo.collection("jobs").findOne(["_id": "j"]))
                #expect(document["state"] == "dead")
                #expect(document["last_error"] == "e2")
                #expect(document["type"] == "t")
                #expect(document["updated_at"] == .date(milliseconds: 1005))
                #expect(document["created_at"] == .date(milliseconds: 1000))
                #expect(document["attempts"]?.documentValue?["1"]?.documentValue?["error"] == "e1")
                #expect(try await mongo.collection("job_events").countDocuments() == 6)
            }
        }
    }

    @Test func aRetryClearsFinishedAtWhateverOrderEventsAreWrittenIn() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let writer = historyWriter(broker, mongo)
                func events(_ job: String, through last: Int) -> [HistoryEvent] {
                    let all = [
                        ["event": "enqueued", "state": "queued", "type": "t", "queue": "q"],
                        ["event": "started", "attempt": "1", "worker": "w"],
                        ["event": "dead", "attempt": "1", "error": "e", "duration_ms": "1"],
                        ["event": "queued", "from": "dead"],
                        ["event": "started", "attempt": "1", "worker": "w"],
                        ["event": "cancelled"],
                        ["event": "queued", "from": "cancelled"],
                        ["event": "started", "attempt": "1", "worker": "w"],
                        ["event": "succeeded", "attempt": "1", "duration_ms": "1"],
                    ]
                    return all.prefix(last + 1).enumerated().map { index, fields in
                        HistoryEvent(id: "\(1000 + index)-0", fields: fields.merging(["job": job, "ts": String(1000 + index)]) { $1 })
                    }
                }
                var generator = SeededGenerator(seed: 7)
                // Cut after each retry (unfinished), after each final event, and at the end.
                for (last, finished) in [(2, 1002), (3, nil), (5, 1005), (6, nil), (8, 1008)] as [(Int, Int64?)] {
                    let inOrder = events("j\(last)", through: last)
                    var orders = [inOrder, inOrder.reversed()]
                    for _ in 0..<4 { orders.append(inOrder.shuffled(using: &generator)) }
                    for (index, order) in orders.enumerated() {
                        let job = "j\(last)-\(index)"
                        for event in order {
                            try await writer.writeToMongo([HistoryEvent(id: event.id, fields: event.fields.merging(["job": job]) { $1 })])
                        }
                        let document = try #require(try await mongo.collection("jobs").findOne(["_id": .string(job)]))
                        let ids = order.map(\.id)
                        #expect(document["finished_at"] == finished.map { .date(milliseconds: $0) }, "after events \(ids)")
                        #expect(document["last_event"]?.stringValue == inOrder.last?.name, "after events \(ids)")
                        // The same events as one batch (merged into fewer writes): the same document. (Except
                        // `attempts` out of order: a retried job numbers its attempts from 1 again, and which
                        // run's `attempts.1` stays depends on the order of writes; a batch keeps the later one.)
                        let batched = job + "-batch"
                        try await writer.writeToMongo(
                            order.map { HistoryEvent(id: $0.id, fields: $0.fields.merging(["job": batched]) { $1 }) })
                        var merged = try #require(try await mongo.collection("jobs").findOne(["_id": .string(batched)]))
                        merged["_id"] = .string(job)
                        var expected = document
                        if index > 0 {
                            merged["attempts"] = nil
                            expected["attempts"] = nil
                        }
                        #expect(Self.sortedFields(merged) == Self.sortedFields(expected), "batch of \(ids)")
                    }
                }
            }
        }
    }

    /// A document with its fields (and nested documents' fields) sorted by key, to compare content.
    static func sortedFields(_ document: Document) -> Document {
        Document(
            document.elements.sorted { $0.key < $1.key }.map { key, value in
                (key, value.documentValue.map { .document(sortedFields($0)) } ?? value)
            })
    }

    @Test func aBatchMergesEachJobsWritesIntoOneUpsertAndOneStateWrite() {
        let events = ["a", "b"].flatMap { job in
            [
                HistoryEvent(id: "1-0", fields: ["job": job, "event": "enqueued", "ts": "1", "type": "t"]),
                HistoryEvent(id: "3-0", fields: ["job": job, "event": "succeeded", "ts": "3", "attempt": "1", "duration_ms": "1"]),
                HistoryEvent(id: "2-0", fields: ["job": job, "event": "started", "ts": "2", "attempt": "1", "worker": "w"]),
                HistoryEvent(id: "4-0", fields: ["event": "paused", "ts": "4", "queue": "q"]),
            ]
        }
        let writes = HistoryEvent.jobWrites(events)
        #expect(writes.count == 4)
        #expect(writes.map(\.conditional) == [false, true, false, true])
        guard case .updateOne(_, let update, true) = writes[0].model, case .updateOne(_, let state, true) = writes[1].model else {
            Issue.record("not upserts: \(writes)")
            return
        }
        #expect(update["$set"]?.documentValue?["type"] == "t")
        #expect(update["$set"]?.documentValue?["attempts.1.outcome"] == "succeeded")
        #expect(update["$min"]?.documentValue?["created_at"] == .date(milliseconds: 1))
        #expect(update["$max"]?.documentValue?["updated_at"] == .date(milliseconds: 3))
        #expect(state["$set"]?.documentValue?["state"] == "succeeded")
        #expect(state["$set"]?.documentValue?["finished_at"] == .date(milliseconds: 3))
    }

    @Test func retryingADeadOrCancelledJobClearsFinishedAtInMongo() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let dead = try await broker.enqueue(EnqueueRequest(type: "fail", payload: #"{"times":5}"#, maxAttempts: 1))
                let cancelled = try await broker.enqueue(EnqueueRequest(type: "noop", delayMilliseconds: 3_600_000))
                _ = try await broker.cancel(cancelled.id)
                let jobs = mongo.collection("jobs")
                try await withServices([historyWriter(broker, mongo)]) {
                    try await withWorker(broker) { _ in try await waitForState(broker, dead.id, .dead) }
                    try await expectHistoryComplete(broker, mongo)
                    for id in [dead.id, cancelled.id] {
                        #expect(try await jobs.findOne(["_id": .string(id)])?["finished_at"]?.dateValue != nil)
                    }
                    // Retried, and not run yet: unfinished in MongoDB too.
                    #expect(try await broker.retry(ids: [dead.id, cancelled.id]) == [dead.id: "retried", cancelled.id: "retried"])
                    try await expectHistoryComplete(broker, mongo)
                    for id in [dead.id, cancelled.id] {
                        let document = try #require(try await jobs.findOne(["_id": .string(id)]))
                        #expect(document["state"] == "queued")
                        #expect(document["finished_at"] == nil)
                    }
                    // The retried no-op runs and finishes again.
                    try await withWorker(broker) { _ in try await waitForState(broker, cancelled.id, .succeeded) }
                    try await expectHistoryComplete(broker, mongo)
                    let document = try #require(try await jobs.findOne(["_id": .string(cancelled.id)]))
                    #expect(document["state"] == "succeeded")
                    #expect(document["finished_at"]?.dateValue != nil)
                }
            }
        }
    }

    @Test func twoWritersWriteEachEventOnce() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let first = historyWriter(broker, mongo, batch: 50)
                let second = historyWriter(broker, mongo, batch: 50)
                try await withServices([first, second]) {
                    try await withWorker(broker, options: WorkerOptions(concurrency: 20)) { _ in
                        _ = try await broker.enqueue(batch: (0..<200).map { EnqueueRequest(type: "noop", payload: #"{"i":\#($0)}"#) })
                        try await eventually(timeout: 30) { (try await broker.stats().totals["succeeded"] ?? 0) >= 200 }
                    }
                    try await expectHistoryComplete(broker, mongo)
                    // Each writer counts a batch after its XACK returns (see the outage test).
                    let total = try await events(broker).count
                    try? await eventually(timeout: 5) { first.writtenCount + second.writtenCount >= total }
                    #expect(first.writtenCount + second.writtenCount == total)
                    let status = try await broker.eventStreamStatus()
                    #expect(status.historyGroupExists)
                    #expect(status.historyLag == 0)
                    #expect(status.historyPending == 0)
                }
                // Stopped with nothing pending, both left the group.
                let consumers = try await broker.pool.command("XINFO", "CONSUMERS", broker.keys.events, "history")
                #expect(consumers.array?.isEmpty == true)
                #expect(try await mongo.collection("jobs").countDocuments(["state": "succeeded"]) == 200)
            }
        }
    }

    @Test("a stopped writer loses nothing: trimming keeps every unread event past the soft cap until it is back")
    func aStoppedWriterLosesNothingPastTheSoftCap() async throws {
        try await withMongo { mongo in
            // Soft cap 200 entries, hard cap 1,000.
            try await withBroker(configure: { $0.eventsMaxLength = 200 }) { broker in
                // The writer creates its group and writes the first event, then stops.
                _ = try await broker.enqueue(EnqueueRequest(type: "noop"))
                try await withServices([historyWriter(broker, mongo)]) {
                    try await eventually(timeout: 30, "the first event never reached MongoDB") {
                        (try? await mongo.collection("job_events").countDocuments()) == 1
                    }
                }
                // 752 more events with no writer, while the promoter trims every second: 250 jobs
                // enqueued one per call (250 stream entries before their starts and successes add more),
                // and the first job's start and success.
                for index in 0..<250 { _ = try await broker.enqueue(EnqueueRequest(type: "noop", payload: #"{"i":\#(index)}"#)) }
                try await withWorker(broker, options: WorkerOptions(concurrency: 20)) { _ in
                    try await eventually(timeout: 30) { (try await broker.stats().totals["succeeded"] ?? 0) >= 251 }
                    try await Task.sleep(for: .milliseconds(2_500))
                }
                #expect(try await broker.trimEvents() == 0)
                let length = try #require(try await broker.pool.command("XLEN", broker.keys.events).int)
                #expect(length > 250, "XLEN \(length): unread events were trimmed")
                #expect(try await events(broker).count == 753)

                // The writer back: every transition reaches MongoDB.
                try await withServices([historyWriter(broker, mongo)]) {
                    try await expectHistoryComplete(broker, mongo, timeout: 120)
                }
                #expect(try await mongo.collection("job_events").countDocuments() == 753)
                #expect(try await mongo.collection("jobs").countDocuments(["state": "succeeded"]) == 251)

                // Acknowledged now, they are trimmed down to about the soft cap.
                #expect(try await broker.trimEvents() > 0)
                let trimmed = try #require(try await broker.pool.command("XLEN", broker.keys.events).int)
                #expect(trimmed >= 200 && trimmed < 300, "XLEN \(trimmed)")
            }
        }
    }

    @Test func aKilledWriterProcessLosesAndDuplicatesNothing() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let process = try ConveyorProcess(
                    ["history"], redisURL: TestRedis.shared.url, namespace: broker.configuration.namespace,
                    environment: [
                        "CONVEYOR_MONGO_URL": try await TestMongo.shared.url(database: mongo.databaseName),
                        "CONVEYOR_HISTORY_CLAIM_IDLE": "300ms",
                    ])
                defer { if process.isRunning { process.signal(SIGKILL) } }
                try await withWorker(broker, options: WorkerOptions(concurrency: 20)) { _ in
                    _ = try await broker.enqueue(batch: (0..<150).map { _ in EnqueueRequest(type: "noop") })
                    try await eventually(timeout: 30, "the writer process wrote nothing: \(process.errorOutput)") {
                        (try? await mongo.collection("job_events").countDocuments()) ?? 0 > 0
                    }
                    // Killed while events keep coming: some of them read and not yet acknowledged.
                    _ = try await broker.enqueue(batch: (0..<150).map { _ in EnqueueRequest(type: "noop") })
                    process.signal(SIGKILL)
                    _ = await process.waitForExit()
                    try await eventually(timeout: 30) { (try await broker.stats().totals["succeeded"] ?? 0) >= 300 }
                }
                let survivor = historyWriter(broker, mongo, claimIdleMilliseconds: 300)
                try await withServices([survivor]) {
                    try await expectHistoryComplete(broker, mongo)
                }
                #expect(try await mongo.collection("jobs").countDocuments(["state": "succeeded"]) == 300)
            }
        }
    }

    @Test func aWriterWhoseRedisConnectionIsCutCatchesUp() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let writer = historyWriter(broker, mongo, claimIdleMilliseconds: 300)
                try await withServices([writer]) {
                    try await withWorker(broker) { _ in
                        _ = try await broker.enqueue(batch: (0..<100).map { _ in EnqueueRequest(type: "noop") })
                        // Cuts every connection blocked in XREADGROUP (the writer's lane).
                        let clients = try await broker.pool.command("CLIENT", "LIST").string ?? ""
                        for line in clients.split(separator: "\n") where line.contains("cmd=xreadgroup") {
                            if let id = line.split(separator: " ").first?.split(separator: "=").last {
                                _ = try? await broker.pool.command("CLIENT", "KILL", "ID", String(id))
                            }
                        }
                        _ = try await broker.enqueue(batch: (0..<100).map { _ in EnqueueRequest(type: "noop") })
                        try await eventually(timeout: 30) { (try await broker.stats().totals["succeeded"] ?? 0) >= 200 }
                    }
                    try await expectHistoryComplete(broker, mongo)
                }
            }
        }
    }

    @Test func mongoOutageNeverPausesProcessingAndHistoryCatchesUp() async throws {
        let server = try TestMongo()
        try await server.start()
        defer { Thread { server.stop() }.start() }
        let mongo = try MongoClient(configuration: MongoConfiguration(url: server.url(database: "outage"), threads: 2))
        let (before, during) = (500, 2_000)
        let clock = ContinuousClock()
        let started = clock.now
        var phases: [String] = []
        func phase(_ name: String) {
            phases.append(name + " at " + String(format: "%.1f s", Double(started.duration(to: clock.now) / .milliseconds(1)) / 1_000))
        }
        try await withBroker { broker in
            let writer = historyWriter(broker, mongo, batch: 100)
            try await withServices([writer]) {
                try await withWorker(broker, options: WorkerOptions(concurrency: 20)) { _ in
                    _ = try await broker.enqueue(batch: (0..<before).map { _ in EnqueueRequest(type: "noop") })
                    try await eventually(timeout: 30) { (try? await mongo.collection("job_events").countDocuments()) ?? 0 > 0 }
                    try await onThread { server.stop() }
                    phase("MongoDB stopped")
                    let succeededAtStop = try await broker.stats().totals["succeeded"] ?? 0
                    let lengthAtStop = try await broker.eventStreamStatus().length
                    let writtenAtStop = writer.writtenCount
                    // Jobs keep succeeding while MongoDB is down.
                    _ = try await broker.enqueue(batch: (0..<during).map { _ in EnqueueRequest(type: "noop") })
                    try await eventually(timeout: 30, "processing paused while MongoDB was down") {
                        (try await broker.stats().totals["succeeded"] ?? 0) >= before + during
                    }
                    phase("all jobs succeeded")
                    let succeededAtRestart = try await broker.stats().totals["succeeded"] ?? 0
                    #expect(succeededAtRestart - succeededAtStop >= during, "jobs succeeded during the outage")
                    // Meanwhile the writer wrote at most the batch in flight when MongoDB went away (100
                    // entries of at most 10 events): the events wait in the stream, unread.
                    #expect(writer.writtenCount - writtenAtStop <= 1_000)
                    let status = try await broker.eventStreamStatus()
                    #expect(status.length - lengthAtStop > 100)
                    #expect(
                        (status.historyLag ?? 0) >= status.length - lengthAtStop - 100, "lag \(String(describing: status.historyLag))")
                    #expect(status.historyPending <= 100)
                    try await server.start()
                    phase("MongoDB restarted")
                }
                try await expectHistoryComplete(broker, mongo, timeout: 60)
                phase("history complete")
                // The writer counts a batch after its XACK returns, so the count may trail the group's
                // empty pending list that `expectHistoryComplete` waited for by a moment.
                let streamed = try await events(broker).count
                try? await eventually(timeout: 5) { writer.writtenCount >= streamed }
                let written = writer.writtenCount
                #expect(written == streamed, "the writer counted \(written) events, the stream holds \(streamed)")
            }
            // Exact: one document per job, every one succeeded with its single attempt, no event twice.
            let jobs = mongo.collection("jobs")
            #expect(try await jobs.countDocuments() == before + during)
            #expect(try await jobs.countDocuments(["state": "succeeded"]) == before + during)
            #expect(
                try await jobs.countDocuments(["attempts.1.outcome": "succeeded", "finished_at": ["$exists": true]]) == before + during)
            #expect(try await mongo.collection("job_events").countDocuments() == 3 * (before + during))
            let status = try await broker.eventStreamStatus()
            #expect(status.historyLag == 0 && status.historyPending == 0)
        }
        print("MongoDB outage test: \(phases.joined(separator: ", "))")
        try? await mongo.dropDatabase()
        await mongo.close()
    }
}

@Suite("History: retention")
struct HistoryRetentionTests {
    @Test func indexesOfEarlierVersionsAreDropped() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                try await mongo.collection("jobs").createIndexes([
                    IndexModel(keys: ["state": 1, "updated_at": -1]), IndexModel(keys: ["type": 1, "created_at": -1]),
                    IndexModel(keys: ["queue": 1, "created_at": -1]),
                ])
                try await mongo.collection("job_events").createIndexes([IndexModel(keys: ["job": 1, "ts": 1])])
                let writer = historyWriter(broker, mongo)
                try await writer.createIndexes()
                try await writer.createIndexes()
                let jobIndexes = try await mongo.collection("jobs").listIndexes().compactMap { $0["name"]?.stringValue }
                #expect(Set(jobIndexes) == ["_id_", "state_1__id_-1", "type_1__id_-1", "queue_1__id_-1", "unique_key_1"])
                let eventIndexes = try await mongo.collection("job_events").listIndexes().compactMap { $0["name"]?.stringValue }
                #expect(Set(eventIndexes) == ["_id_", "job_1__id_1"])
            }
        }
    }

    @Test func ttlIndexesOnlyWhenConfigured() async throws {
        try await withMongo { mongo in
            try await withBroker { broker in
                let options = try HistoryWriterOptions.fromEnvironment(["CONVEYOR_HISTORY_TTL": "30d"])
                #expect(options.ttlSeconds == 30 * 86_400)
                let writer = HistoryWriter(broker: broker, mongo: mongo, options: options, logger: quietLogger)
                try await writer.createIndexes()
                try await writer.createIndexes()
                let jobIndexes = try await mongo.collection("jobs").listIndexes()
                let eventIndexes = try await mongo.collection("job_events").listIndexes()
                let jobTTL = try #require(jobIndexes.first { $0["name"] == "finished_at_ttl" })
                let eventTTL = try #require(eventIndexes.first { $0["name"] == "ts_ttl" })
                #expect(jobTTL["expireAfterSeconds"]?.intValue == 30 * 86_400)
                #expect(eventTTL["expireAfterSeconds"]?.intValue == 30 * 86_400)
                #expect(eventIndexes.contains { $0["name"] == "job_1__id_1" })
                #expect(try HistoryWriterOptions.fromEnvironment([:]).ttlSeconds == nil)
            }
        }
    }
}

/// A deterministic random number generator (SplitMix64), so a shuffled order can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
