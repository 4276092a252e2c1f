/// One write of a bulk write.
public enum WriteModel: Sendable, Hashable {
    /// Inserts a document (with `_id` set, a second insert of it is a duplicate-key write error).
    case insertOne(Document)
    /// Applies an update document (`{"$set": ...}`) to the first match; inserts when none and `upsert`.
    case updateOne(filter: Document, update: Document, upsert: Bool = false)
    /// Replaces the first match; inserts when none and `upsert`.
    case replaceOne(filter: Document, replacement: Document, upsert: Bool = false)
    /// Deletes the first match.
    case deleteOne(filter: Document)
    /// Deletes every match.
    case deleteMany(filter: Document)
}

/// What a bulk write did. Duplicate-key write errors of an unordered bulk write land here instead of
/// being thrown: a redelivered event insert is harmless, the rest of the batch was written.
public struct BulkWriteResult: Sendable, Hashable {
    public var insertedCount = 0
    public var matchedCount = 0
    public var modifiedCount = 0
    public var deletedCount = 0
    public var upsertedCount = 0
    /// `_id`s of upserted documents by the index of their write.
    public var upsertedIDs: [Int: BSONValue] = [:]
    /// The writes skipped because a unique index already held their key (code 11000).
    public var duplicateKeyErrors: [WriteError] = []

    public init() {}

    init(reply: Document) {
        insertedCount = reply["nInserted"]?.intValue ?? 0
        matchedCount = reply["nMatched"]?.intValue ?? 0
        modifiedCount = reply["nModified"]?.intValue ?? 0
        deletedCount = reply["nRemoved"]?.intValue ?? 0
        upsertedCount = reply["nUpserted"]?.intValue ?? 0
        for entry in reply["upserted"]?.arrayValue ?? [] {
            if let entry = entry.documentValue, let index = entry["index"]?.intValue { upsertedIDs[index] = entry["_id"] ?? .null }
        }
    }

    /// The write errors of a bulk write reply.
    static func writeErrors(in reply: Document) -> [WriteError] {
        (reply["writeErrors"]?.arrayValue ?? []).compactMap { $0.documentValue }.map { entry in
            WriteError(
                index: entry["index"]?.intValue ?? -1, code: entry["code"]?.intValue ?? 0,
                message: entry["errmsg"]?.stringValue ?? entry["message"]?.stringValue ?? "")
        }
    }
}

/// An index to create: keys in order (`["state": 1, "updated": -1]`) and options.
public struct IndexModel: Sendable, Hashable {
    public var keys: Document
    /// Defaults to MongoDB's own naming: `state_1_updated_-1`.
    public var name: String
    public var unique: Bool
    /// Index only the documents matching this filter (`{"finished": {"$exists": true}}`).
    public var partialFilter: Document?
    /// A TTL index: documents expire this many seconds after the date in the (single) key field.
    public var expireAfterSeconds: Int?

    public init(keys: Document, name: String? = nil, unique: Bool = false, partialFilter: Document? = nil, expireAfterSeconds: Int? = nil) {
        self.keys = keys
        self.name =
            name
            ?? zip(keys.keys, keys.values).map { key, value in "\(key)_\(value.intValue.map(String.init) ?? value.stringValue ?? "1")" }
            .joined(separator: "_")
        self.unique = unique
        self.partialFilter = partialFilter
        self.expireAfterSeconds = expireAfterSeconds
    }

    /// The index specification of a `createIndexes` command.
    var specification: Document {
        var document: Document = ["key": .document(keys), "name": .string(name)]
        if unique { document["unique"] = true }
        if let partialFilter { document["partialFilterExpression"] = .document(partialFilter) }
        if let expireAfterSeconds { document["expireAfterSeconds"] = BSONValue(expireAfterSeconds) }
        return document
    }
}
