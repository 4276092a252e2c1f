import Foundation

// The BSON wire format (bsonspec.org), encoded and decoded in Swift. libbson gets and gives the bytes
// (`bson_new_from_data`, `bson_get_data`); everything above the boundary works with `Document`.

extension Document {
    /// The document as BSON bytes. Throws for a key containing a NUL byte (BSON keys are C strings).
    public func bsonBytes() throws -> [UInt8] {
        var writer = BSONWriter()
        try writer.writeDocument(self)
        return writer.bytes
    }

    /// Decodes BSON bytes (one complete document).
    public init(bsonBytes bytes: some Collection<UInt8>) throws {
        let array = Array(bytes)
        self = try array.withUnsafeBufferPointer { buffer in
            var reader = BSONReader(buffer)
            let document = try reader.readDocument()
            guard reader.offset == buffer.count else { throw HistoryError.invalidBSON("trailing bytes after the document") }
            return document
        }
    }

    /// Decodes the BSON document at `buffer` (its length is read from its first four bytes).
    init(bsonBuffer buffer: UnsafeBufferPointer<UInt8>) throws {
        var reader = BSONReader(buffer)
        self = try reader.readDocument()
    }
}

private enum BSONType {
    static let double: UInt8 = 0x01
    static let string: UInt8 = 0x02
    static let document: UInt8 = 0x03
    static let array: UInt8 = 0x04
    static let binary: UInt8 = 0x05
    static let undefined: UInt8 = 0x06
    static let objectID: UInt8 = 0x07
    static let bool: UInt8 = 0x08
    static let date: UInt8 = 0x09
    static let null: UInt8 = 0x0A
    static let regex: UInt8 = 0x0B
    static let javascript: UInt8 = 0x0D
    static let symbol: UInt8 = 0x0E
    static let int32: UInt8 = 0x10
    static let timestamp: UInt8 = 0x11
    static let int64: UInt8 = 0x12
    static let decimal128: UInt8 = 0x13
    static let minKey: UInt8 = 0xFF
    static let maxKey: UInt8 = 0x7F
}

private struct BSONWriter {
    var bytes: [UInt8] = []

    mutating func writeDocument(_ document: Document) throws {
        let start = bytes.count
        append(Int32(0))
        for (key, value) in zip(document.keys, document.values) {
            try writeElement(key, value)
        }
        bytes.append(0)
        patchLength(at: start)
    }

    mutating func writeArray(_ array: [BSONValue]) throws {
        let start = bytes.count
        append(Int32(0))
        for (index, value) in array.enumerated() {
            try writeElement(String(index), value)
        }
        bytes.append(0)
        patchLength(at: start)
    }

    private mutating func patchLength(at start: Int) {
        let length = Int32(bytes.count - start)
        withUnsafeBytes(of: length.littleEndian) { raw in
            for index in 0..<4 { bytes[start + index] = raw[index] }
        }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func appendCString(_ text: String) throws {
        let utf8 = Array(text.utf8)
        if utf8.contains(0) { throw HistoryError.invalidBSON("a key or regex contains a NUL byte: \(text.debugDescription)") }
        bytes.append(contentsOf: utf8)
        bytes.append(0)
    }

    private mutating func appendString(_ text: String) {
        let utf8 = Array(text.utf8)
        append(Int32(utf8.count + 1))
        bytes.append(contentsOf: utf8)
        bytes.append(0)
    }

    private mutating func writeElement(_ key: String, _ value: BSONValue) throws {
        let typeIndex = bytes.count
        bytes.append(0)
        try appendCString(key)
        let type: UInt8
        switch value {
        case .null:
            type = BSONType.null
        case .bool(let flag):
            type = BSONType.bool
            bytes.append(flag ? 1 : 0)
        case .int32(let number):
            type = BSONType.int32
            append(number)
        case .int64(let number):
            type = BSONType.int64
            append(number)
        case .double(let number):
            type = BSONType.double
            append(number.bitPattern)
        case .string(let text):
            type = BSONType.string
            appendString(text)
        case .date(let date):
            type = BSONType.date
            append(BSONValue.milliseconds(date))
        case .document(let document):
            type = BSONType.document
            try writeDocument(document)
        case .array(let array):
            type = BSONType.array
            try writeArray(array)
        case .objectID(let id):
            type = BSONType.objectID
            bytes.append(contentsOf: id.bytes)
        case .binary(let binary):
            type = BSONType.binary
            append(Int32(binary.data.count))
            bytes.append(binary.subtype)
            bytes.append(contentsOf: binary.data)
        case .timestamp(let seconds, let increment):
            type = BSONType.timestamp
            append(increment)
            append(seconds)
        case .regex(let pattern, let options):
            type = BSONType.regex
            try appendCString(pattern)
            try appendCString(String(options.sorted()))
        case .decimal128(let low, let high):
            type = BSONType.decimal128
            append(low)
            append(high)
        case .minKey:
            type = BSONType.minKey
        case .maxKey:
            type = BSONType.maxKey
        }
        bytes[typeIndex] = type
    }
}

private struct BSONReader {
    let buffer: UnsafeBufferPointer<UInt8>
    var offset = 0
    var depth = 0

    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    private mutating func need(_ count: Int) throws {
        guard count >= 0, offset + count <= buffer.count else { throw HistoryError.invalidBSON("truncated at byte \(offset)") }
    }

    private mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[offset..<offset + MemoryLayout<T>.size])))
        }
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    private mutating func readBytes(_ count: Int) throws -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(buffer[offset..<offset + count])
    }

    private mutating func readCString() throws -> String {
        guard let end = buffer[offset...].firstIndex(of: 0) else { throw HistoryError.invalidBSON("unterminated key at byte \(offset)") }
        defer { offset = end + 1 }
        return String(decoding: buffer[offset..<end], as: UTF8.self)
    }

    private mutating func readString() throws -> String {
        let length = Int(try read(Int32.self))
        guard length >= 1 else { throw HistoryError.invalidBSON("bad string length at byte \(offset)") }
        try need(length)
        defer { offset += length }
        return String(decoding: buffer[offset..<offset + length - 1], as: UTF8.self)
    }

    mutating func readDocument() throws -> Document {
        var document = Document()
        try readElements { key, value in document.append(key, value) }
        return document
    }

    private mutating func readArray() throws -> [BSONValue] {
        var array: [BSONValue] = []
        try readElements { _, value in array.append(value) }
        return array
    }

    private mutating func readElements(_ add: (String, BSONValue) -> Void) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 200 else { throw HistoryError.invalidBSON("documents nested deeper than 200 levels") }
        let start = offset
        let length = Int(try read(Int32.self))
        guard length >= 5, start + length <= buffer.count else { throw HistoryError.invalidBSON("bad document length at byte \(start)") }
        let end = start + length - 1
        while offset < end {
            let type = try read(UInt8.self)
            let key = try readCString()
            add(key, try readValue(type))
        }
        guard offset == end, buffer[end] == 0 else { throw HistoryError.invalidBSON("document at byte \(start) overruns its length") }
        offset = end + 1
    }

    private mutating func readValue(_ type: UInt8) throws -> BSONValue {
        switch type {
        case BSONType.double: return .double(Double(bitPattern: try read(UInt64.self)))
        case BSONType.string, BSONType.javascript, BSONType.symbol: return .string(try readString())
        case BSONType.document: return .document(try readDocument())
        case BSONType.array: return .array(try readArray())
        case BSONType.binary:
            let length = Int(try read(Int32.self))
            let subtype = try read(UInt8.self)
            return .binary(BSONBinary(subtype: subtype, data: try readBytes(length)))
        case BSONType.undefined, BSONType.null: return .null
        case BSONType.objectID: return .objectID(ObjectID(bytes: try readBytes(12))!)
        case BSONType.bool: return .bool(try read(UInt8.self) != 0)
        case BSONType.date: return .date(milliseconds: try read(Int64.self))
        case BSONType.regex:
            let pattern = try readCString()
            return .regex(pattern: pattern, options: try readCString())
        case BSONType.int32: return .int32(try read(Int32.self))
        case BSONType.timestamp:
            let increment = try read(UInt32.self)
            return .timestamp(seconds: try read(UInt32.self), increment: increment)
        case BSONType.int64: return .int64(try read(Int64.self))
        case BSONType.decimal128:
            let low = try read(UInt64.self)
            return .decimal128(low: low, high: try read(UInt64.self))
        case BSONType.minKey: return .minKey
        case BSONType.maxKey: return .maxKey
        default: throw HistoryError.invalidBSON("unsupported BSON type 0x\(String(type, radix: 16)) at byte \(offset)")
        }
    }
}
