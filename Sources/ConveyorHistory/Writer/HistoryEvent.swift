import Foundation
import RedisClient

/// One event of the `{ns}:events` stream: its position and fields, as the Lua scripts wrote them.
///
/// A stream entry holds the events of one script call (Lua/includes/emit.lua), at most
/// ``eventsPerEntry``; the event at `index` of entry `<ms>-<seq>` has the id
/// `<ms>-<seq * eventsPerEntry + index>`, so event ids sort like the events happened and read like
/// stream ids (`since`, `seq`, the `_id` in MongoDB). ``entryID`` is the entry's own id, which the
/// stream commands (XACK, XREAD) take.
public struct HistoryEvent: Sendable, Hashable {
    /// The event id (`1718000000000-3002`: the third event of entry `1718000000000-3`): the `_id` of
    /// its `job_events` document.
    public var id: String
    /// The id of the stream entry that holds the event.
    public var entryID: String
    /// The event's fields (`job`, `event`, `ts` and the event's details).
    public var fields: [String: String]

    /// An event alone in its entry (`entryID` = `id`), as tests build them.
    public init(id: String, fields: [String: String]) {
        self.init(id: id, entryID: id, fields: fields)
    }

    public init(id: String, entryID: String, fields: [String: String]) {
        self.id = id
        self.entryID = entryID
        self.fields = fields
    }

    /// The most events one stream entry holds (`EVENTS_PER_ENTRY` in Lua/includes/emit.lua is at most
    /// this): the factor between an entry's sequence number and its events' ids.
    public static let eventsPerEntry: UInt64 = 1_000

    /// The events of stream entries (an XRANGE/XREAD reply's list), in order: the one decoder of
    /// `{ns}:events`. Each event starts at a `job` field; fields before the first (the `ts` of the
    /// call) belong to every event of the entry, and an event's own fields win. An entry without a
    /// `ts` first is one event with the entry's own id (entries written before events were batched,
    /// so an upgrade renumbers nothing already stored, and foreign ones); an entry without fields
    /// (trimmed while pending in a consumer group) is one empty event, so it is still acknowledged.
    /// An empty `job` (a queue event) is left out of the fields.
    public static func decode(_ value: RedisValue) -> [HistoryEvent] {
        var events: [HistoryEvent] = []
        for row in value.array ?? [] {
            guard let parts = row.array, parts.count == 2, let entryID = parts[0].string else { continue }
            let split = entryID.split(separator: "-", maxSplits: 1)
            let values = (parts[1].array ?? []).map { $0.string ?? "" }
            // An entry in the layout before events were batched (or a foreign one) does not start with
            // the shared `ts`: one event that keeps the entry's id, as the history already stored it.
            guard split.count == 2, let milliseconds = UInt64(split[0]), let sequence = UInt64(split[1]), values.first == "ts"
            else {
                events.append(HistoryEvent(id: entryID, fields: parts[1].fieldMap ?? [:]))
                continue
            }
            let base = sequence &* eventsPerEntry
            var shared: [String: String] = [:]
            var current: [String: String]?
            var index: UInt64 = 0
            func close() {
                guard var fields = current else { return }
                if fields["job"] == "" { fields["job"] = nil }
                events.append(HistoryEvent(id: "\(milliseconds)-\(base + index)", entryID: entryID, fields: fields))
                index += 1
            }
            var position = 0
            while position + 1 < values.count {
                let (field, text) = (values[position], values[position + 1])
                position += 2
                if field == "job" {
                    close()
                    current = shared
                }
                if current != nil { current![field] = text } else { shared[field] = text }
            }
            if current == nil { current = shared }
            close()
        }
        return events
    }

    /// The job the event is about; nil for queue events (`paused`, `resumed`).
    public var job: String? { fields["job"].flatMap { $0.isEmpty ? nil : $0 } }
    /// The event name (`enqueued`, `started`, ...).
    public var name: String { fields["event"] ?? "" }
    /// When it happened, in milliseconds since 1970 (from `ts`, else from the entry id).
    public var milliseconds: Int64 {
        fields["ts"].flatMap { Int64($0) } ?? Int64(id.split(separator: "-").first ?? "0") ?? 0
    }

    /// A key that sorts like the stream ids do (`0001718000000000-0000000003`): the stream gives every
    /// event of a namespace a total order, and this key carries it into MongoDB, where string
    /// comparison decides which of two events of a job is the later one.
    public var orderKey: String {
        let parts = id.split(separator: "-", maxSplits: 1)
        let time = UInt64(parts.first ?? "0") ?? 0
        let sequence = parts.count > 1 ? UInt64(parts[1]) ?? 0 : 0
        return Self.padded(time, 16) + "-" + Self.padded(sequence, 20)
    }

    private static func padded(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The job state the event leaves the job in; nil when the event does not change it.
    public var state: String? {
        switch name {
        case "enqueued": fields["state"] ?? "queued"
        case "started": "running"
        case "succeeded": "succeeded"
        case "retrying": "retrying"
        case "dead": "dead"
        case "cancelled": "cancelled"
        case "queued", "requeued", "stalled": "queued"
        case "updated": fields["state"]  // only when a new run time moved the job
        case "dropped": "dropped"
        case "deleted": "deleted"
        default: nil
        }
    }

    /// True for events after which the job is finished (in Redis or gone from it).
    public var isFinal: Bool { ["succeeded", "dead", "cancelled", "dropped", "deleted"].contains(name) }

    /// Fields holding integers, stored as numbers.
    static let integerFields: Set<String> = ["attempt", "duration_ms", "queued_ms", "crashes", "max_attempts", "timeout_ms"]
    /// Fields holding JSON text, stored as nested BSON when BSON holds them exactly, else as their text
    /// under `<field>_json` (see `element(_:)`).
    static let jsonFields: Set<String> = ["payload", "result"]
    /// The suffix of a JSON field kept as text: `payload_json`, `result_json`.
    public static let jsonTextSuffix = "_json"
    /// Fields holding milliseconds since 1970, stored as dates.
    static let dateFields: Set<String> = ["run_at"]

    /// A field's value as BSON: numbers, dates and nested JSON where the field is known to hold them.
    func bson(_ field: String) -> BSONValue? {
        guard let text = fields[field] else { return nil }
        if Self.integerFields.contains(field), let number = Int(text) { return BSONValue(number) }
        if Self.dateFields.contains(field), let number = Int64(text) { return .date(milliseconds: number) }
        if Self.jsonFields.contains(field) { return BSONValue.exact(jsonText: text) }
        return .string(text)
    }

    /// A field as a document element: `bson(field)` under its own name, or, for a JSON field that BSON
    /// cannot hold exactly (an empty key, `{"":0}`; a key with NUL, `.` or a leading `$`; a number
    /// such as `1.10` or `2e400`...; see `BSONValue.exact(jsonText:)`), its JSON text as a string
    /// under `<field>_json`. Either way nothing is lost and MongoDB accepts it.
    func element(_ field: String) -> (String, BSONValue)? {
        guard let text = fields[field] else { return nil }
        if let value = bson(field) { return (field, value) }
        return (field + Self.jsonTextSuffix, .string(text))
    }

    /// The `job_events` document: `_id` = the event's id, `ts` as a date, the details typed.
    public var eventDocument: Document {
        var elements: [(String, BSONValue)] = [("_id", .string(id))]
        if let job { elements.append(("job", .string(job))) }
        elements.append(("event", .string(name)))
        elements.append(("ts", .date(milliseconds: milliseconds)))
        for key in fields.keys.sorted() where !["job", "event", "ts"].contains(key) {
            if let element = element(key) { elements.append(element) }
        }
        return Document(elements)
    }

    /// The `jobs` writes for this event, all upserts on the job's `_id`, each idempotent and
    /// independent of the order in which events are written:
    ///
    /// 1. facts that never change once known, merged with `$set` (type, queue, payload, result,
    ///    per-attempt details under `attempts.<n>.*`), and times merged with `$min`/`$max`;
    /// 2. the state, set only when this event is later in the stream than the event that set the
    ///    current one (`state_event` holds that event's `orderKey`), and with it `finished_at`: set by a
    ///    final event, removed by any other (a dead or cancelled job retried is unfinished again, and
    ///    the TTL index must not expire it);
    /// 3. the last error, under the same rule with its own key (`last_error_event`).
    ///
    /// A conditional write whose filter does not match (a later event is already there) turns into an
    /// insert of an existing `_id` and fails with a duplicate key: the writer treats that as "already
    /// newer" after one retry (the retry covers two writers racing to create the document).
    public var jobWrites: [JobWrite] { Self.jobWrites([self]) }

    /// The `jobs` writes for a batch of events, the same documents as each event's `jobWrites`
    /// applied one by one, in fewer writes: per job, one upsert merging the facts of all its events
    /// (`$set` in stream order, `$min`/`$max` of the values), one state write for its latest state
    /// event and one error write for its latest error (the earlier ones could only be overwritten by
    /// it, or refused like it). A job's enqueued, started and succeeded events in one batch take 2
    /// writes instead of 6.
    public static func jobWrites(_ events: [HistoryEvent]) -> [JobWrite] {
        var order: [String] = []
        var byJob: [String: [HistoryEvent]] = [:]
        for event in events {
            guard let job = event.job else { continue }
            if byJob[job] == nil { order.append(job) }
            byJob[job, default: []].append(event)
        }
        var writes: [JobWrite] = []
        writes.reserveCapacity(order.count * 2)
        for job in order {
            let events = byJob[job]!.sorted { $0.orderKey < $1.orderKey }
            var set: [(String, BSONValue)] = []
            var minimum = Extremes(keepsLower: true)
            var maximum = Extremes(keepsLower: false)
            for event in events {
                let facts = event.facts
                set += facts.set  // a repeated key keeps the later event's value (Document's rule)
                minimum.merge(facts.minimum)
                maximum.merge(facts.maximum)
            }
            var update: [(String, BSONValue)] = []
            if !set.isEmpty { update.append(("$set", .document(Document(set)))) }
            if !minimum.keys.isEmpty { update.append(("$min", .document(minimum.document))) }
            update.append(("$max", .document(maximum.document)))
            writes.append(
                JobWrite(model: .updateOne(filter: ["_id": .string(job)], update: Document(update), upsert: true), conditional: false))

            if let event = events.last(where: { $0.state != nil }), let state = event.state {
                let key = BSONValue.string(event.orderKey)
                let at = BSONValue.date(milliseconds: event.milliseconds)
                writes.append(
                    latestWins(
                        job: job, keyField: "state_event", key: key,
                        fields: [("state", .string(state)), ("state_event", key), ("last_event", .string(event.name))]
                            + (event.isFinal ? [("finished_at", at)] : []),
                        unset: event.isFinal ? [] : ["finished_at"]))
            }
            if let event = events.last(where: { ["retrying", "dead"].contains($0.name) && $0.fields["error"] != nil }),
                let error = event.bson("error")
            {
                let key = BSONValue.string(event.orderKey)
                writes.append(
                    latestWins(
                        job: job, keyField: "last_error_event", key: key, fields: [("last_error", error), ("last_error_event", key)]))
            }
        }
        return writes
    }

    /// `a < b` for the values merged with `$min`/`$max` (dates and integers).
    private static func less(_ a: BSONValue, _ b: BSONValue) -> Bool {
        if let a = a.dateValue, let b = b.dateValue { return a < b }
        if let a = a.intValue, let b = b.intValue { return a < b }
        return false
    }

    /// The lowest (`$min`) or highest (`$max`) value seen per key, keys in first-seen order.
    private struct Extremes {
        let keepsLower: Bool
        var keys: [String] = []
        var values: [String: BSONValue] = [:]

        init(keepsLower: Bool) { self.keepsLower = keepsLower }

        mutating func merge(_ pairs: [(String, BSONValue)]) {
            for (key, value) in pairs {
                guard let old = values[key] else {
                    values[key] = value
                    keys.append(key)
                    continue
                }
                let better = keepsLower ? HistoryEvent.less(value, old) : HistoryEvent.less(old, value)
                if better { values[key] = value }
            }
        }

        var document: Document { Document(keys.map { ($0, values[$0]!) }) }
    }

    /// The facts this event adds to its job's document: fields to set, and times and counters merged
    /// with `$min` / `$max`.
    private var facts: (set: [(String, BSONValue)], minimum: [(String, BSONValue)], maximum: [(String, BSONValue)]) {
        let at = BSONValue.date(milliseconds: milliseconds)
        var set: [(String, BSONValue)] = []
        var minimum: [(String, BSONValue)] = []
        var maximum: [(String, BSONValue)] = [("updated_at", at)]
        let attempt = fields["attempt"].flatMap { Int($0) }
        let prefix = attempt.map { "attempts.\($0)." }
        switch name {
        case "enqueued":
            for key in ["type", "queue", "priority", "payload", "max_attempts", "unique_key", "run_at"] {
                if let element = element(key) { set.append(element) }
            }
            minimum.append(("created_at", at))
        case "started":
            if let prefix {
                set.append((prefix + "attempt", BSONValue(attempt!)))
                set.append((prefix + "started_at", at))
                if let worker = bson("worker") { set.append((prefix + "worker", worker)) }
                if let queued = bson("queued_ms") { set.append((prefix + "queued_ms", queued)) }
            }
            maximum.append(("attempt_count", BSONValue(attempt ?? 0)))
        case "succeeded", "retrying", "dead":
            if let prefix, attempt! > 0 {
                set.append((prefix + "attempt", BSONValue(attempt!)))
                set.append((prefix + "finished_at", at))
                set.append((prefix + "outcome", .string(name == "succeeded" ? "succeeded" : "failed")))
                if let duration = bson("duration_ms") { set.append((prefix + "duration_ms", duration)) }
                if let error = bson("error") { set.append((prefix + "error", error)) }
            }
            if name == "succeeded", let result = element("result") { set.append(result) }
            if let crashes = bson("crashes") { maximum.append(("crashes", crashes)) }
        case "stalled":
            if let crashes = bson("crashes") { maximum.append(("crashes", crashes)) }
        case "updated":
            // The new values of the fields it names, over those of `enqueued` (and of earlier updates:
            // a batch applies its events' facts in stream order). An `enqueued` event written after an
            // `updated` one of the same job (a crashed writer's batch claimed and written late) puts
            // the enqueue-time values back; events are otherwise written in stream order.
            let updatable: Set<String> = ["priority", "run_at", "payload", "max_attempts", "backoff", "timeout_ms"]
            for key in (fields["changed"] ?? "").split(separator: ",").map(String.init) where updatable.contains(key) {
                if let value = bson(key) { set.append((key, value)) }
            }
        default:
            break
        }
        return (set, minimum, maximum)
    }

    private static func latestWins(
        job: String, keyField: String, key: BSONValue, fields: [(String, BSONValue)], unset: [String] = []
    ) -> JobWrite {
        // "Absent or older" as `$not: {$gte: key}` rather than an `$or` of the two: the same documents
        // (the field only ever holds order keys), but SecantusDB scans the whole collection for an
        // `$or` next to the `_id` (about 10 ms per write at 3,000 jobs, growing with the collection).
        let filter: Document = ["_id": .string(job), keyField: ["$not": ["$gte": key]]]
        var update: Document = ["$set": .document(Document(fields))]
        if !unset.isEmpty { update["$unset"] = .document(Document(unset.map { ($0, BSONValue.string("")) })) }
        return JobWrite(model: .updateOne(filter: filter, update: update, upsert: true), conditional: true)
    }
}

/// One write to `jobs`; `conditional` writes only apply when their event is the latest of its kind.
public struct JobWrite: Sendable, Hashable {
    public var model: WriteModel
    /// A duplicate-key failure of a conditional write (after one retry) means a later event already
    /// set these fields: the write is done.
    public var conditional: Bool
}
