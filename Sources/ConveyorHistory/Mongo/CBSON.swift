import CMongoc

// The libbson boundary. `bson_t` is 128-byte aligned, so Swift sees `bson_t *` as an OpaquePointer:
// documents cross as BSON bytes (`bson_new_from_data` / `bson_get_data`), every `bson_t` made here is
// destroyed before the helper returns.

/// The size libbson gives a `bson_t` (flags, length, 120 bytes of inline storage), for reply storage.
private let bsonStructSize = 128

/// Runs `body` with a `bson_t` holding `document`, destroyed afterwards.
func withBSON<T>(_ document: Document, _ body: (OpaquePointer) throws -> T) throws -> T {
    let bytes = try document.bsonBytes()
    let bson = bytes.withUnsafeBufferPointer { bson_new_from_data($0.baseAddress, $0.count) }
    guard let bson else { throw HistoryError.invalidBSON("libbson refused the document") }
    defer { bson_destroy(bson) }
    return try body(bson)
}

/// Runs `body` with a `bson_t` for `document`, or with nil when there is none.
func withOptionalBSON<T>(_ document: Document?, _ body: (OpaquePointer?) throws -> T) throws -> T {
    guard let document else { return try body(nil) }
    return try withBSON(document) { try body($0) }
}

/// Runs `body` with storage for a reply `bson_t` that libmongoc initialises; destroyed afterwards.
func withReply<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
    let storage = UnsafeMutableRawPointer.allocate(byteCount: bsonStructSize, alignment: bsonStructSize)
    let reply = OpaquePointer(storage)
    bson_init(reply)  // so destroying is safe even if the callee never touched it
    defer {
        bson_destroy(reply)
        storage.deallocate()
    }
    return try body(reply)
}

extension Document {
    /// Copies a libbson document into Swift values.
    init(bson: OpaquePointer) throws {
        let length = Int(conveyor_bson_length(bson))
        guard let data = bson_get_data(bson) else { throw HistoryError.invalidBSON("libbson gave no data") }
        try self.init(bsonBuffer: UnsafeBufferPointer(start: data, count: length))
    }
}

/// Reads every document of a cursor, then destroys it; throws the cursor's error, if any.
func drain(_ cursor: OpaquePointer) throws -> [Document] {
    defer { mongoc_cursor_destroy(cursor) }
    var documents: [Document] = []
    var current: OpaquePointer?
    while mongoc_cursor_next(cursor, &current) {
        guard let current else { break }
        documents.append(try Document(bson: current))
    }
    var error = bson_error_t()
    if mongoc_cursor_error(cursor, &error) { throw HistoryError(error) }
    return documents
}
