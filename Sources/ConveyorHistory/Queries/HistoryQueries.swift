import Foundation

/// Filters of `HistoryQueries.listJobs`; nil fields do not filter.
public struct JobFilter: Sendable, Hashable {
    public var state: String?
    public var type: String?
    public var queue: String?
    /// Created at or after this time.
    public var since: Date?
    /// Created before this time.
    public var until: Date?
    /// Case-insensitive substring of the last error message.
    public var errorContains: String?

    public init(
        state: String? = nil, type: String? = nil, queue: String? = nil, since: Date? = nil, until: Date? = nil,
        errorContains: String? = nil
    ) {
        self.state = state
        self.type = type
        self.queue = queue
        self.since = since
        self.until = until
        self.errorContains = errorContains
    }
}

/// One page of `listJobs`: the jobs, newest first, and the cursor of the next page (nil on the last).
public struct JobPage: Sendable, Hashable {
    public var jobs: [Document]
    public var nextCursor: String?
}

/// Job throughput of one minute.
public struct MinuteCounts: Sendable, Hashable {
    public var minute: Date
    public var succeeded: Int
    public var failed: Int
}

/// Read queries over the history the `HistoryWriter` keeps in `jobs` and `job_events`.
public struct HistoryQueries: Sendable {
    public let mongo: MongoClient

    public init(mongo: MongoClient) {
        self.mongo = mongo
    }

    var jobs: MongoCollection { mongo.collection("jobs") }
    var jobEvents: MongoCollection { mongo.collection("job_events") }

    /// The job's document and its events in stream order; nil when MongoDB has no document for it.
    /// Sorted here by the ids' numbers (`HistoryEvent.orderKey`): as text, `T-5` (the sixth event of
    /// a millisecond's first entry) would sort after `T-1000` (its second entry's first).
    public func job(_ id: String) async throws -> (job: Document, timeline: [Document])? {
        guard let document = try await jobs.findOne(["_id": .string(id)]) else { return nil }
        let timeline = try await jobEvents.find(["job": .string(id)]).map { event in
            (HistoryEvent(id: event["_id"]?.stringValue ?? "", fields: [:]).orderKey, event)
        }
        return (document, timeline.sorted { $0.0 < $1.0 }.map(\.1))
    }

    /// Jobs matching `filter`, newest first (by `_id`: job ids are UUIDv7, so id order is creation
    /// order), at most `limit` (1...1000). Keyset paging: pass the returned `nextCursor` to get the
    /// jobs older than the last one returned; jobs created meanwhile never shift a page.
    public func listJobs(filter: JobFilter = JobFilter(), limit: Int = 100, cursor: String? = nil) async throws -> JobPage {
        guard (1...1_000).contains(limit) else {
            throw HistoryError(domain: HistoryError.conveyorDomain, code: 0, message: "limit must be from 1 to 1000, got \(limit)")
        }
        var query = Document()
        if let state = filter.state { query["state"] = .string(state) }
        if let type = filter.type { query["type"] = .string(type) }
        if let queue = filter.queue { query["queue"] = .string(queue) }
        var created = Document()
        if let since = filter.since { created["$gte"] = .date(since) }
        if let until = filter.until { created["$lt"] = .date(until) }
        if !created.isEmpty { query["created_at"] = .document(created) }
        if let text = filter.errorContains, !text.isEmpty {
            query["last_error"] = .regex(pattern: Self.escapeRegex(text), options: "i")
        }
        if let cursor { query["_id"] = ["$lt": .string(cursor)] }
        // One more than asked tells whether there is a next page.
        let found = try await jobs.find(query, sort: ["_id": -1], limit: limit + 1)
        let page = Array(found.prefix(limit))
        let next = found.count > limit ? page.last?["_id"]?.stringValue : nil
        return JobPage(jobs: page, nextCursor: next)
    }

    /// Job counts by state and by type.
    public func counts() async throws -> (byState: [String: Int], byType: [String: Int]) {
        func grouped(_ field: String) async throws -> [String: Int] {
            let rows = try await jobs.aggregate([["$group": ["_id": .string("$" + field), "n": ["$sum": 1]]]])
            var result: [String: Int] = [:]
            for row in rows {
                guard let key = row["_id"]?.stringValue else { continue }
                result[key, default: 0] += row["n"]?.intValue ?? 0
            }
            return result
        }
        return (try await grouped("state"), try await grouped("type"))
    }

    /// Finished attempts per minute over the last `hours`, oldest minute first: `succeeded` counts
    /// `succeeded` events, `failed` counts `retrying` and `dead` ones. Minutes without any are left out.
    public func perMinute(hours: Double, now: Date = Date()) async throws -> [MinuteCounts] {
        let start = now.addingTimeInterval(-hours * 3_600)
        let pipeline: [Document] = [
            ["$match": ["ts": ["$gte": .date(start)], "event": ["$in": ["succeeded", "retrying", "dead"]]]],
            [
                "$group": [
                    "_id": ["$dateTrunc": ["date": "$ts", "unit": "minute"]],
                    "succeeded": ["$sum": ["$cond": [["$eq": ["$event", "succeeded"]], 1, 0]]],
                    "failed": ["$sum": ["$cond": [["$eq": ["$event", "succeeded"]], 0, 1]]],
                ]
            ],
            ["$sort": ["_id": 1]],
        ]
        return try await jobEvents.aggregate(pipeline).compactMap { row in
            guard let minute = row["_id"]?.dateValue else { return nil }
            return MinuteCounts(minute: minute, succeeded: row["succeeded"]?.intValue ?? 0, failed: row["failed"]?.intValue ?? 0)
        }
    }

    /// `text` with every regular-expression metacharacter escaped, to match literally.
    static func escapeRegex(_ text: String) -> String {
        let special = Set("\\^$.|?*+()[]{}-/#".unicodeScalars)
        var output = ""
        for scalar in text.unicodeScalars {
            // A BSON regex is a C string: a NUL byte is spelled as the escape \x00.
            if scalar == "\u{0}" {
                output += "\\x00"
                continue
            }
            if special.contains(scalar) { output.append("\\") }
            output.unicodeScalars.append(scalar)
        }
        return output
    }
}
