import CMongoc
import Foundation

// JSON text ⇄ BSON values, for job payloads and results: a payload `{"to":"a@b","n":[1,2.5]}` is stored
// as a nested document, so MongoDB can filter on its fields, and comes back as JSON text.
//
// Objects keep their key order. Integers become int32 when they fit, else int64, else double; numbers
// with a fraction or exponent become doubles. Keys starting with `$` are kept as plain keys (no
// extended-JSON interpretation on input). Writing: JSON types as JSON; other BSON types in MongoDB's
// relaxed extended JSON (`{"$date":"2024-01-02T03:04:05.678Z"}`, `{"$oid":"..."}`).

extension BSONValue {
    /// Parses JSON text (any JSON value, not only objects).
    public init(jsonText: String) throws {
        try self.init(jsonText: jsonText, exact: false)
    }

    /// The BSON value that holds the JSON text exactly, or nil when BSON (or MongoDB) cannot: the text
    /// is not JSON; an object key is empty, contains NUL or `.`, or starts with `$` (libbson and MongoDB
    /// refuse or reinterpret such names); a number's text is not what its int32/int64/double prints
    /// (`1.10`, `-0`, `1e3`, integers past 64 bits); a `\u` escape is a lone surrogate; or it nests
    /// deeper than `maximumExactDepth` levels (MongoDB refuses documents nested past 100). The history
    /// keeps such values as their JSON text.
    public static func exact(jsonText: String) -> BSONValue? {
        try? BSONValue(jsonText: jsonText, exact: true)
    }

    /// The deepest nesting `exact(jsonText:)` accepts, leaving room for the document around the value.
    public static let maximumExactDepth = 90

    private init(jsonText: String, exact: Bool) throws {
        var parser = JSONParser(Array(jsonText.utf8))
        parser.exact = exact
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        self = value
    }

    /// The value as compact JSON text.
    public var jsonText: String {
        var output = ""
        writeJSON(to: &output)
        return output
    }

    private func writeJSON(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .int32(let number): output += String(number)
        case .int64(let number): output += String(number)
        case .double(let number):
            if number.isFinite {
                output += "\(number)"
            } else {
                output += "{\"$numberDouble\":\"\(number.isNaN ? "NaN" : number > 0 ? "Infinity" : "-Infinity")\"}"
            }
        case .string(let text): Self.writeJSONString(text, to: &output)
        case .document(let document):
            output += "{"
            for (index, key) in document.keys.enumerated() {
                if index > 0 { output += "," }
                Self.writeJSONString(key, to: &output)
                output += ":"
                document.values[index].writeJSON(to: &output)
            }
            output += "}"
        case .array(let array):
            output += "["
            for (index, value) in array.enumerated() {
                if index > 0 { output += "," }
                value.writeJSON(to: &output)
            }
            output += "]"
        case .date(let date):
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            output += "{\"$date\":\"\(formatter.string(from: Date(timeIntervalSince1970: Double(Self.milliseconds(date)) / 1000)))\"}"
        case .objectID(let id): output += "{\"$oid\":\"\(id)\"}"
        case .binary(let binary):
            output +=
                "{\"$binary\":{\"base64\":\"\(Data(binary.data).base64EncodedString())\",\"subType\":\"\(String(format: "%02x", binary.subtype))\"}}"
        case .timestamp(let seconds, let increment): output += "{\"$timestamp\":{\"t\":\(seconds),\"i\":\(increment)}}"
        case .regex(let pattern, let options):
            output += "{\"$regularExpression\":{\"pattern\":"
            Self.writeJSONString(pattern, to: &output)
            output += ",\"options\":"
            Self.writeJSONString(options, to: &output)
            output += "}}"
        case .decimal128(let low, let high):
            output += "{\"$numberDecimal\":\"\(Self.decimal128String(low: low, high: high))\"}"
        case .minKey: output += "{\"$minKey\":1}"
        case .maxKey: output += "{\"$maxKey\":1}"
        }
    }

    static func decimal128String(low: UInt64, high: UInt64) -> String {
        var value = bson_decimal128_t(low: low, high: high)
        var buffer = [CChar](repeating: 0, count: Int(BSON_DECIMAL128_STRING) + 1)
        bson_decimal128_to_string(&value, &buffer)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func writeJSONString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            default:
                if scalar.value < 0x20 {
                    output += String(format: "\\u%04x", scalar.value)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}

/// A JSON parser over UTF-8 bytes that keeps object key order.
private struct JSONParser {
    let bytes: [UInt8]
    var index = 0
    /// Refuse what BSON would not hold exactly (see `BSONValue.exact(jsonText:)`).
    var exact = false

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> HistoryError {
        HistoryError.invalidJSON("\(message) at byte \(index)")
    }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func expect(_ literal: String, _ value: BSONValue) throws -> BSONValue {
        let utf8 = Array(literal.utf8)
        guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 else { throw error("invalid literal") }
        index += utf8.count
        return value
    }

    mutating func parseValue(depth: Int) throws -> BSONValue {
        guard depth < 200 else { throw error("JSON nested deeper than 200 levels") }
        if exact, depth >= BSONValue.maximumExactDepth { throw error("nested too deep to store exactly") }
        guard index < bytes.count else { throw error("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var fields: [(String, BSONValue)] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .document(Document())
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try parseString()
                if exact, key.isEmpty || key.hasPrefix("$") || key.utf8.contains(where: { $0 == 0 || $0 == UInt8(ascii: ".") }) {
                    throw error("a key MongoDB cannot store as it is")
                }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                fields.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard index < bytes.count else { throw error("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    let document = Document(fields)  // a repeated key keeps its last value, in its first place
                    if exact, document.count != fields.count { throw error("a repeated key") }
                    return .document(document)
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            index += 1
            var array: [BSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(array)
            }
            while true {
                skipWhitespace()
                array.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(array)
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        default: return try parseNumber()
        }
    }

    private mutating func parseNumber() throws -> BSONValue {
        let start = index
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        guard index > digitsStart else { throw error("invalid value") }
        if bytes[digitsStart] == UInt8(ascii: "0"), index - digitsStart > 1 { throw error("leading zero in a number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            let fraction = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > fraction else { throw error("digits expected after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let exponent = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > exponent else { throw error("digits expected in the exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let number = Int64(text), !exact || String(number) == text {
            if let small = Int32(exactly: number) { return .int32(small) }
            return .int64(number)
        }
        guard let number = Double(text) else { throw error("invalid number") }
        if exact, !number.isFinite || "\(number)" != text { throw error("a number BSON cannot hold as written") }
        return .double(number)
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw error("invalid \\u escape")
        }
        index += 4
        return value
    }

    private mutating func parseString() throws -> String {
        index += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flush(_ end: Int) {
            scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush(index)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("control character in a string") }
            if byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            flush(index)
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code), index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                {
                    let save = index
                    index += 2
                    let low = try parseHex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        index = save
                    }
                }
                if exact, Unicode.Scalar(code) == nil { throw error("a lone surrogate escape") }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: throw error("invalid escape")
            }
            runStart = index
        }
        throw error("unterminated string")
    }
}
