import Foundation

/// Helpers for payloads and results kept as JSON text.
public enum JSONText {
    /// Checks that `text` is one JSON value (object, array, string, number, bool or null) whose numbers
    /// are all finite as doubles: `{"e":1E400}` is refused with the number's path (`payload.e`).
    public static func validate(_ text: String, what: String = "payload") throws(ConveyorError) {
        var text = text
        let (valid, nonFinite) = text.withUTF8 { bytes in
            var scanner = JSONScanner(bytes: bytes)
            return (scanner.document(), scanner.sawNonFiniteNumber)
        }
        guard valid else {
            throw ConveyorError(.invalidArgument, "\(what) is not valid JSON: \(text.prefix(80))")
        }
        if nonFinite { try validateNumbers(text, what: what) }
    }

    /// The text of the top-level member `name` of the JSON object in `bytes`, byte for byte as sent.
    /// Nil when `bytes` is not one valid JSON object, or has no such member, or has it twice, or has a
    /// key with an escape sequence (which could spell `name`): callers then fall back to
    /// re-serialising the parsed value.
    public static func rawMember(_ name: String, in bytes: UnsafeRawBufferPointer) -> String? {
        let buffer = bytes.assumingMemoryBound(to: UInt8.self)
        guard let found = uniqueMember(name, in: buffer) else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[found]), as: UTF8.self)
    }

    /// The value range of the top-level member `name` of the JSON object in `buffer`: nil when it is not
    /// one valid object, has no such member or has it twice, or has a key with an escape sequence.
    private static func uniqueMember(_ name: String, in buffer: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let key = Array(name.utf8)
        var scanner = JSONScanner(bytes: buffer)
        guard let members = scanner.members() else { return nil }
        var found: Range<Int>?
        for member in members {
            let raw = buffer[member.key]
            if raw.contains(UInt8(ascii: "\\")) { return nil }
            if raw.elementsEqual(key) {
                guard found == nil else { return nil }
                found = member.value
            }
        }
        return found
    }

    /// The byte ranges (in `bytes`) of the elements of the array that is the top-level member `name`
    /// of the JSON object in `bytes`; nil when there is no such single, unescaped member or it is not
    /// an array (see `rawMember`). Lets a batch read each entry's own text.
    public static func rawElements(_ name: String, in bytes: UnsafeRawBufferPointer) -> [Range<Int>]? {
        let buffer = bytes.assumingMemoryBound(to: UInt8.self)
        guard let found = uniqueMember(name, in: buffer) else { return nil }
        var elements = JSONScanner(bytes: UnsafeBufferPointer(rebasing: buffer[found]))
        return elements.elements()?.map { ($0.lowerBound + found.lowerBound)..<($0.upperBound + found.lowerBound) }
    }

    /// JSON text for embedding in a larger document (`RawJSON`, so its numbers keep their text); the
    /// text itself, as a string, when it is not JSON.
    public static func object(_ text: String) -> Any {
        RawJSON(text) ?? text
    }

    /// Serialises Foundation objects as JSON text, compact or pretty (two-space indent), with sorted
    /// keys. `RawJSON` values are written as their own text (white space normalised, members in their
    /// order, numbers and strings exactly as written); integral doubles as integers, non-finite ones as
    /// null. Not `JSONSerialization`: it reads and writes numbers through `Double`, so `9007199254740993`
    /// would come out as `9007199254740992` and `1.10` as `1.1`.
    public static func string(_ object: Any, pretty: Bool = false) -> String {
        var writer = JSONWriter(pretty: pretty)
        writer.write(object, depth: 0)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The path (`jobs[1].payload.e`; "" for the value itself) of the first number in valid JSON
    /// text that is not finite as a double (`1E400`), or nil when there is none.
    public static func nonFiniteNumberPath(_ text: String, root: String = "") -> String? {
        var text = text
        return text.withUTF8 { bytes in
            var walker = JSONNumberWalker(bytes: bytes)
            return walker.firstNonFinite(path: root)
        }
    }

    /// The error for a number that is not finite as a double, at `path`.
    public static func nonFiniteNumberError(path: String) -> ConveyorError {
        ConveyorError(.invalidArgument, "\(path) is a number too large for a double (finite numbers only, up to about 1.8e308)")
    }

    /// Checks that every number in the JSON text is finite as a double (`1E400` is not), naming the
    /// first that is not by its path (`payload.e`, `payload.list[2]`). `text` must be valid JSON.
    static func validateNumbers(_ text: String, what: String = "payload") throws(ConveyorError) {
        if let path = nonFiniteNumberPath(text, root: what) {
            throw nonFiniteNumberError(path: path)
        }
    }
}

/// JSON text kept as it was sent, for embedding in a larger document written by `JSONText.string`: its
/// numbers are never converted (so `9007199254740993`, `-0` and `1.10` come out as they went in).
public struct RawJSON: Sendable, Hashable {
    /// The JSON text (one valid JSON value).
    public let text: String

    /// Wraps JSON text; nil when it is not exactly one JSON value.
    public init?(_ text: String) {
        var copy = text
        let valid = copy.withUTF8 { bytes in
            var scanner = JSONScanner(bytes: bytes)
            return scanner.document()
        }
        guard valid else { return nil }
        self.text = text
    }
}

/// The writer behind `JSONText.string`.
struct JSONWriter {
    let pretty: Bool
    var bytes: [UInt8] = []

    init(pretty: Bool) { self.pretty = pretty }

    private mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    private mutating func newline(_ depth: Int) {
        guard pretty else { return }
        bytes.append(0x0A)
        bytes.append(contentsOf: repeatElement(0x20, count: depth * 2))
    }

    mutating func write(_ value: Any, depth: Int) {
        // Foundation's numbers (from JSONSerialization) first: a boolean is an NSNumber too.
        if type(of: value) is NSNumber.Type, let number = value as? NSNumber { return writeNumber(number) }
        switch value {
        case is NSNull: append("null")
        case let raw as RawJSON: writeRaw(raw.text, depth: depth)
        case let text as String: writeString(text)
        case let flag as Bool where type(of: value) == Bool.self: append(flag ? "true" : "false")
        case let number as Int: append(String(number))
        case let number as Int64: append(String(number))
        case let number as Int32: append(String(number))
        case let number as UInt64: append(String(number))
        case let number as UInt32: append(String(number))
        case let number as Double: writeDouble(number)
        case let object as [String: Any]:
            let keys = object.keys.sorted()
            writeContainer(open: "{", close: "}", count: keys.count, depth: depth) { writer, index in
                writer.writeString(keys[index])
                writer.append(writer.pretty ? " : " : ":")
                writer.write(object[keys[index]]!, depth: depth + 1)
            }
        case let array as [Any]:
            writeContainer(open: "[", close: "]", count: array.count, depth: depth) { writer, index in
                writer.write(array[index], depth: depth + 1)
            }
        default: writeString("\(value)")
        }
    }

    private mutating func writeContainer(
        open: String, close: String, count: Int, depth: Int, element: (inout JSONWriter, Int) -> Void
    ) {
        append(open)
        for index in 0..<count {
            if index > 0 { append(",") }
            newline(depth + 1)
            element(&self, index)
        }
        if count > 0 { newline(depth) }
        append(close)
    }

    private mutating func writeDouble(_ number: Double) {
        guard number.isFinite else { return append("null") }
        if number == number.rounded(), abs(number) < 1e15, !(number == 0 && number.sign == .minus) {
            append(String(Int64(number)))
        } else {
            append("\(number)")
        }
    }

    private mutating func writeNumber(_ number: NSNumber) {
        switch String(cString: number.objCType) {
        case "c", "B": append(number.boolValue ? "true" : "false")
        case "f", "d": writeDouble(number.doubleValue)
        case "Q", "L", "I", "S": append(String(number.uint64Value))
        default: append(String(number.int64Value))
        }
    }

    mutating func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0..<0x20: append(String(format: "\\u%04x", byte))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies valid JSON text token by token: strings and numbers as written, white space replaced by
    /// this writer's own layout.
    private mutating func writeRaw(_ text: String, depth: Int) {
        var text = text
        text.withUTF8 { source in
            var index = 0
            var level = depth
            var emptyContainer = false
            while index < source.count {
                let byte = source[index]
                switch byte {
                case 0x20, 0x0A, 0x0D, 0x09:
                    index += 1
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    bytes.append(byte)
                    level += 1
                    index += 1
                    // Look past white space: an empty container stays on one line.
                    var next = index
                    while next < source.count, [0x20, 0x0A, 0x0D, 0x09].contains(source[next]) { next += 1 }
                    emptyContainer = next < source.count && (source[next] == UInt8(ascii: "}") || source[next] == UInt8(ascii: "]"))
                    if !emptyContainer { newline(level) }
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    level -= 1
                    if !emptyContainer { newline(level) }
                    emptyContainer = false
                    bytes.append(byte)
                    index += 1
                case UInt8(ascii: ","):
                    bytes.append(byte)
                    newline(level)
                    index += 1
                case UInt8(ascii: ":"):
                    append(pretty ? " : " : ":")
                    index += 1
                case UInt8(ascii: "\""):
                    let start = index
                    index += 1
                    while index < source.count, source[index] != UInt8(ascii: "\"") {
                        index += source[index] == UInt8(ascii: "\\") ? 2 : 1
                    }
                    index += 1
                    bytes.append(contentsOf: source[start..<min(index, source.count)])
                default:
                    // Numbers and literals: copied up to the next structural character or white space.
                    let start = index
                    while index < source.count, !Self.delimiters.contains(source[index]) { index += 1 }
                    bytes.append(contentsOf: source[start..<index])
                }
            }
        }
    }

    private static let delimiters: Set<UInt8> = [
        0x20, 0x0A, 0x0D, 0x09, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ":"),
    ]
}

/// Finds the first number of a valid JSON text that is not finite as a double, with its path.
struct JSONNumberWalker {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    /// Cheap for the common case: only numbers with an exponent or more than 300 digits are converted.
    mutating func firstNonFinite(path: String) -> String? {
        skipSpace()
        guard let byte = current else { return nil }
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            while true {
                skipSpace()
                guard let next = current else { return nil }
                if next == UInt8(ascii: "}") {
                    index += 1
                    return nil
                }
                if next == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                let keyStart = index
                skipString()
                let key = Self.unquote(bytes[keyStart..<index])
                skipSpace()
                index += 1  // ':'
                if let found = firstNonFinite(path: path.isEmpty ? key : path + "." + key) { return found }
            }
        case UInt8(ascii: "["):
            index += 1
            var position = 0
            while true {
                skipSpace()
                guard let next = current else { return nil }
                if next == UInt8(ascii: "]") {
                    index += 1
                    return nil
                }
                if next == UInt8(ascii: ",") {
                    index += 1
                    position += 1
                    continue
                }
                if let found = firstNonFinite(path: path + "[\(position)]") { return found }
            }
        case UInt8(ascii: "\""):
            skipString()
            return nil
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            while let next = current, next >= UInt8(ascii: "a"), next <= UInt8(ascii: "z") { index += 1 }
            return nil
        default:
            let start = index
            var exponent = false
            while let next = current,
                next == UInt8(ascii: "-") || next == UInt8(ascii: "+") || next == UInt8(ascii: ".")
                    || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") || (next >= 0x30 && next <= 0x39)
            {
                if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") { exponent = true }
                index += 1
            }
            guard exponent || index - start > 300 else { return nil }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return Double(text)?.isFinite == false ? path : nil
        }
    }

    private mutating func skipString() {
        index += 1
        while let byte = current, byte != UInt8(ascii: "\"") { index += byte == UInt8(ascii: "\\") ? 2 : 1 }
        index += 1
    }

    /// A key as a path component (escapes decoded by JSONSerialization; the raw text when that fails).
    private static func unquote(_ raw: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        let text = String(decoding: UnsafeBufferPointer(rebasing: raw), as: UTF8.self)
        guard text.contains("\\"), let data = text.data(using: .utf8),
            let key = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? String
        else { return String(text.dropFirst().dropLast()) }
        return key
    }
}

/// RFC 3339 UTC timestamps with milliseconds, the only time format Conveyor prints.
public enum RFC3339 {
    public static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// Parses `2026-11-22T10:00:00Z`, with or without fractional seconds, with `Z` or an offset such
    /// as `+01:00` (none means UTC unless `requireOffset`). Strict: every field in its range (no
    /// `12:99` rolling over into the next hour); a leap second `:60` reads as `:59`.
    public static func date(_ text: String, requireOffset: Bool = false) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        func byte(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }
        guard let year = number(0, 4), byte(4) == 45, let month = number(5, 2), byte(7) == 45, let day = number(8, 2),
            let separator = byte(10), separator == 84 || separator == 116 || separator == 32,
            let hour = number(11, 2), byte(13) == 58, let minute = number(14, 2), byte(16) == 58, let second = number(17, 2)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        var index = 19
        var fraction = 0.0
        if byte(index) == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while let digit = byte(index), (48...57).contains(digit) {
                fraction += Double(digit - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        switch byte(index) {
        case nil:
            guard !requireOffset else { return nil }
        case 90, 122:
            index += 1
        case 43, 45:
            guard let hours = number(index + 1, 2), byte(index + 3) == 58, let minutes = number(index + 4, 2), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (byte(index) == 45 ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let epochDays = era * 146_097 + dayOfEra - 719_468
        let seconds = epochDays * 86_400 + hour * 3_600 + minute * 60 + min(second, 59) - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}

/// A byte-level JSON syntax checker (RFC 8259), much cheaper than parsing into objects.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    /// Set when a number is valid JSON but not finite as a double (`1E400`).
    var sawNonFiniteNumber = false

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// True when the whole input is exactly one JSON value with optional white space around it.
    mutating func document() -> Bool {
        skipSpace()
        guard value() else { return false }
        skipSpace()
        return index == bytes.count
    }

    /// The byte ranges of each top-level member's key (inside the quotes) and value, when the whole
    /// input is exactly one valid JSON object.
    mutating func members() -> [(key: Range<Int>, value: Range<Int>)]? {
        skipSpace()
        guard current == UInt8(ascii: "{") else { return nil }
        depth = 1
        index += 1
        skipSpace()
        var members: [(key: Range<Int>, value: Range<Int>)] = []
        if current == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                let keyStart = index + 1
                guard current == UInt8(ascii: "\""), string() else { return nil }
                let keyEnd = index - 1
                skipSpace()
                guard current == UInt8(ascii: ":") else { return nil }
                index += 1
                skipSpace()
                let valueStart = index
                guard value() else { return nil }
                members.append((keyStart..<keyEnd, valueStart..<index))
                skipSpace()
                if current == UInt8(ascii: ",") {
                    index += 1
                    skipSpace()
                } else if current == UInt8(ascii: "}") {
                    index += 1
                    break
                } else {
                    return nil
                }
            }
        }
        skipSpace()
        return index == bytes.count ? members : nil
    }

    /// The byte ranges of each element, when the whole input is exactly one valid JSON array.
    mutating func elements() -> [Range<Int>]? {
        skipSpace()
        guard current == UInt8(ascii: "[") else { return nil }
        depth = 1
        index += 1
        skipSpace()
        var elements: [Range<Int>] = []
        if current == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                let start = index
                guard value() else { return nil }
                elements.append(start..<index)
                skipSpace()
                if current == UInt8(ascii: ",") {
                    index += 1
                    skipSpace()
                } else if current == UInt8(ascii: "]") {
                    index += 1
                    break
                } else {
                    return nil
                }
            }
        }
        skipSpace()
        return index == bytes.count ? elements : nil
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    private mutating func value() -> Bool {
        guard let byte = current else { return false }
        switch byte {
        case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), keyed: true)
        case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), keyed: false)
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return number()
        }
    }

    private mutating func container(close: UInt8, keyed: Bool) -> Bool {
        depth += 1
        guard depth <= 512 else { return false }
        defer { depth -= 1 }
        index += 1
        skipSpace()
        if current == close {
            index += 1
            return true
        }
        while true {
            if keyed {
                guard current == UInt8(ascii: "\""), string() else { return false }
                skipSpace()
                guard current == UInt8(ascii: ":") else { return false }
                index += 1
                skipSpace()
            }
            guard value() else { return false }
            skipSpace()
            if current == UInt8(ascii: ",") {
                index += 1
                skipSpace()
            } else if current == close {
                index += 1
                return true
            } else {
                return false
            }
        }
    }

    private mutating func string() -> Bool {
        index += 1
        while let byte = current {
            index += 1
            if byte == UInt8(ascii: "\"") { return true }
            if byte < 0x20 { return false }
            if byte == UInt8(ascii: "\\") {
                guard let escaped = current else { return false }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    for _ in 0..<4 {
                        guard let hex = current, isHex(hex) else { return false }
                        index += 1
                    }
                default: return false
                }
            }
        }
        return false
    }

    private func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    private mutating func digits() -> Bool {
        let start = index
        while let byte = current, byte >= 0x30 && byte <= 0x39 { index += 1 }
        return index > start
    }

    private mutating func number() -> Bool {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else if !digits() {
            return false
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard digits() else { return false }
        }
        var exponent = false
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            exponent = true
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() else { return false }
        }
        // Only a number with an exponent or over 300 characters can overflow a double: convert those.
        if exponent || index - start > 300,
            Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))?.isFinite != true
        {
            sawNonFiniteNumber = true
        }
        return true
    }
}
