import Foundation

/// One BSON value: what a field of a MongoDB document holds.
///
/// Swift code builds and reads these; they become `bson_t` only at the libmongoc boundary. Dates keep
/// millisecond precision (BSON's), integer literals become `int32` when they fit and `int64` otherwise.
public indirect enum BSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case string(String)
    /// A UTC datetime, stored as milliseconds since 1970.
    case date(Date)
    case document(Document)
    case array([BSONValue])
    case objectID(ObjectID)
    case binary(BSONBinary)
    /// MongoDB's internal timestamp (seen in server replies such as `operationTime`).
    case timestamp(seconds: UInt32, increment: UInt32)
    case regex(pattern: String, options: String)
    /// A decimal128, kept as its raw bits (low, high) so it round-trips unchanged.
    case decimal128(low: UInt64, high: UInt64)
    case minKey
    case maxKey

    /// An integer as `int32` when it fits, else `int64`.
    public init(_ value: Int) {
        if let small = Int32(exactly: value) { self = .int32(small) } else { self = .int64(Int64(value)) }
    }

    /// A date from milliseconds since 1970.
    public static func date(milliseconds: Int64) -> BSONValue {
        .date(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

extension BSONValue {
    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number as an `Int`, if this is an integer or a double with an integral value.
    public var intValue: Int? {
        switch self {
        case .int32(let value): Int(value)
        case .int64(let value): Int(value)
        case .double(let value): Int(exactly: value)
        default: nil
        }
    }

    /// The number as a `Double`, if this is any number.
    public var doubleValue: Double? {
        switch self {
        case .int32(let value): Double(value)
        case .int64(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The boolean, if this is a boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The date, if this is a date.
    public var dateValue: Date? {
        if case .date(let value) = self { return value }
        return nil
    }

    /// The document, if this is a document.
    public var documentValue: Document? {
        if case .document(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [BSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// True for `.null`.
    public var isNull: Bool { self == .null }

    /// Milliseconds since 1970 of a date, rounded to the nearest millisecond (BSON's precision).
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

extension BSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self.init(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: BSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, BSONValue)...) { self = .document(Document(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

/// A 12-byte MongoDB ObjectId.
public struct ObjectID: Sendable, Hashable, CustomStringConvertible {
    /// The 12 bytes, most significant first.
    public let bytes: [UInt8]

    /// An ObjectId from its 12 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 12 else { return nil }
        self.bytes = bytes
    }

    /// An ObjectId from its 24 hexadecimal digits.
    public init?(_ hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 24 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 24, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    /// A new ObjectId: seconds since 1970, 5 random bytes, a 3-byte random counter.
    public init() {
        let seconds = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        var bytes = withUnsafeBytes(of: seconds.bigEndian) { Array($0) }
        for _ in 0..<8 { bytes.append(UInt8.random(in: 0...255)) }
        self.bytes = bytes
    }

    public var description: String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// BSON binary data with its subtype (0 = generic, 4 = UUID).
public struct BSONBinary: Sendable, Hashable {
    public var subtype: UInt8
    public var data: [UInt8]

    public init(subtype: UInt8 = 0, data: [UInt8]) {
        self.subtype = subtype
        self.data = data
    }
}
