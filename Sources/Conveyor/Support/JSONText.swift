import Foundation

/// Helpers for payloads and results kept as JSON text.
public enum JSONText {
    /// Checks that `text` is one JSON value (object, array, string, number, bool or null).
    public static func validate(_ text: String, what: String = "payload") throws(ConveyorError) {
        var text = text
        let valid = text.withUTF8 { bytes in
            var scanner = JSONScanner(bytes: bytes)
            return scanner.document()
        }
        guard valid else {
            throw ConveyorError(.invalidArgument, "\(what) is not valid JSON: \(text.prefix(80))")
        }
    }

    /// The text of the top-level member `name` of the JSON object in `bytes`, byte for byte as sent.
    /// Nil when `bytes` is not one valid JSON object, or has no such member, or has it twice, or has a
    /// key with an escape sequence (which could spell `name`): callers then fall back to
    /// re-serialising the parsed value.
    public static func rawMember(_ name: String, in bytes: UnsafeRawBufferPointer) -> String? {
        let key = Array(name.utf8)
        let buffer = bytes.assumingMemoryBound(to: UInt8.self)
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
        guard let found else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[found]), as: UTF8.self)
    }

    /// Parses JSON text into Foundation objects, for embedding in a larger document; the text itself
    /// when it is not JSON.
    public static func object(_ text: String) -> Any {
        guard let data = text.data(using: .utf8),
            let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { return text }
        return value
    }

    /// Serialises Foundation objects as compact JSON text with sorted keys.
    public static func string(_ object: Any, pretty: Bool = false) -> String {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: options) else { return "null" }
        return String(decoding: data, as: UTF8.self)
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
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() else { return false }
        }
        return true
    }
}
