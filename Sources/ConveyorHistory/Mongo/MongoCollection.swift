import CMongoc

/// A collection of a `MongoClient`'s database; every operation runs on the client's threads.
public struct MongoCollection: Sendable {
    public let client: MongoClient
    public let database: String
    public let name: String

    /// Runs `body` with a libmongoc collection handle on one of the client's threads.
    private func withCollection<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let database = database
        let name = name
        return try await client.withConnection { connection in
            let collection = mongoc_client_get_collection(connection.client, database, name)!
            defer { mongoc_collection_destroy(collection) }
            return try body(collection)
        }
    }

    /// Inserts the documents in one bulk write. Unordered (the default): duplicates of an existing `_id`
    /// are skipped and reported in `duplicateKeyErrors`, everything else is written.
    @discardableResult
    public func insertMany(_ documents: [Document], ordered: Bool = false) async throws -> BulkWriteResult {
        try await bulkWrite(documents.map { .insertOne($0) }, ordered: ordered)
    }

    /// Runs the writes as one bulk write (batched by libmongoc to the server's limits).
    ///
    /// Unordered (the default), every write is attempted; duplicate-key errors are returned in
    /// `duplicateKeyErrors` and any other write error throws a `HistoryError` carrying all of them.
    /// Ordered, the first write error stops the batch and throws.
    @discardableResult
    public func bulkWrite(_ writes: [WriteModel], ordered: Bool = false) async throws -> BulkWriteResult {
        guard !writes.isEmpty else { return BulkWriteResult() }
        return try await withCollection { collection in
            let bulk = try withBSON(["ordered": .bool(ordered)]) { mongoc_collection_create_bulk_operation_with_opts(collection, $0)! }
            defer { mongoc_bulk_operation_destroy(bulk) }
            var error = bson_error_t()
            for write in writes {
                let added: Bool
                switch write {
                case .insertOne(let document):
                    added = try withBSON(document) { mongoc_bulk_operation_insert_with_opts(bulk, $0, nil, &error) }
                case .updateOne(let filter, let update, let upsert):
                    added = try withBSON(filter) { filter in
                        try withBSON(update) { update in
                            try withBSON(["upsert": .bool(upsert)]) {
                                mongoc_bulk_operation_update_one_with_opts(bulk, filter, update, $0, &error)
                            }
                        }
                    }
                case .replaceOne(let filter, let replacement, let upsert):
                    added = try withBSON(filter) { filter in
                        try withBSON(replacement) { replacement in
                            try withBSON(["upsert": .bool(upsert)]) {
                                mongoc_bulk_operation_replace_one_with_opts(bulk, filter, replacement, $0, &error)
                            }
                        }
                    }
                case .deleteOne(let filter):
                    added = try withBSON(filter) { mongoc_bulk_operation_remove_one_with_opts(bulk, $0, nil, &error) }
                case .deleteMany(let filter):
                    added = try withBSON(filter) { mongoc_bulk_operation_remove_many_with_opts(bulk, $0, nil, &error) }
                }
                guard added else { throw HistoryError(error) }
            }
            return try withReply { reply in
                let succeeded = mongoc_bulk_operation_execute(bulk, reply, &error) != 0
                let document = try Document(bson: reply)
                var result = BulkWriteResult(reply: document)
                guard !succeeded else { return result }
                var failure = HistoryError(error)
                failure.writeErrors = BulkWriteResult.writeErrors(in: document)
                let writeConcernFailed = !(document["writeConcernErrors"]?.arrayValue ?? []).isEmpty
                guard !ordered, !writeConcernFailed, !failure.writeErrors.isEmpty, failure.writeErrors.allSatisfy(\.isDuplicateKey) else {
                    throw failure
                }
                result.duplicateKeyErrors = failure.writeErrors
                return result
            }
        }
    }

    /// The documents matching `filter`, in `sort` order, at most `limit` (0 = no limit), after
    /// skipping `skip`, with only the fields of `projection` when given.
    public func find(
        _ filter: Document = [:], sort: Document? = nil, limit: Int = 0, skip: Int = 0, projection: Document? = nil
    ) async throws -> [Document] {
        var options = Document()
        if let sort { options["sort"] = .document(sort) }
        if limit > 0 { options["limit"] = .int64(Int64(limit)) }
        if skip > 0 { options["skip"] = .int64(Int64(skip)) }
        if let projection { options["projection"] = .document(projection) }
        return try await withCollection { [options] collection in
            try withBSON(filter) { filter in
                try withBSON(options) { options in
                    try drain(mongoc_collection_find_with_opts(collection, filter, options, nil))
                }
            }
        }
    }

    /// The first document matching `filter` (in `sort` order), or nil.
    public func findOne(_ filter: Document = [:], sort: Document? = nil, projection: Document? = nil) async throws -> Document? {
        try await find(filter, sort: sort, limit: 1, projection: projection).first
    }

    /// How many documents match `filter` (an exact count, through an aggregation on the server).
    public func countDocuments(_ filter: Document = [:]) async throws -> Int {
        try await withCollection { collection in
            try withBSON(filter) { filter in
                try withReply { reply in
                    var error = bson_error_t()
                    let count = mongoc_collection_count_documents(collection, filter, nil, nil, reply, &error)
                    guard count >= 0 else { throw HistoryError(error) }
                    return Int(count)
                }
            }
        }
    }

    /// Runs an aggregation pipeline (`[["$match": ...], ["$group": ...]]`) and returns its output.
    public func aggregate(_ pipeline: [Document]) async throws -> [Document] {
        let command: Document = ["pipeline": .array(pipeline.map { .document($0) })]
        return try await withCollection { collection in
            try withBSON(command) { pipeline in
                try drain(mongoc_collection_aggregate(collection, MONGOC_QUERY_NONE, pipeline, nil, nil))
            }
        }
    }

    /// Creates the indexes (`createIndexes`). Idempotent: an index that exists with the same keys and
    /// options is left alone; the same name with other options throws (code 85 or 86).
    public func createIndexes(_ indexes: [IndexModel]) async throws {
        guard !indexes.isEmpty else { return }
        let command: Document = ["createIndexes": .string(name), "indexes": .array(indexes.map { .document($0.specification) })]
        try await withCollection { collection in
            try withBSON(command) { command in
                try withReply { reply in
                    var error = bson_error_t()
                    guard mongoc_collection_write_command_with_opts(collection, command, nil, reply, &error) else {
                        throw HistoryError(error)
                    }
                }
            }
        }
    }

    /// The collection's index specifications (`listIndexes`); empty when the collection does not exist.
    public func listIndexes() async throws -> [Document] {
        try await withCollection { collection in
            try drain(mongoc_collection_find_indexes_with_opts(collection, nil))
        }
    }

    /// Drops the collection and its indexes; nothing happens when it does not exist.
    public func drop() async throws {
        try await withCollection { collection in
            var error = bson_error_t()
            if !mongoc_collection_drop_with_opts(collection, nil, &error) {
                let failure = HistoryError(error)
                if failure.code == HistoryError.namespaceNotFoundCode || failure.message.contains("ns not found") { return }
                throw failure
            }
        }
    }
}
