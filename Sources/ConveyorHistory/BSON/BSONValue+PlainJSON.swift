import Foundation

// BSON values as plain JSON, the way the CLI and the REST API show history documents: no MongoDB
// extended-JSON wrappers. Dates become RFC 3339 UTC strings with milliseconds
// (`2024-06-10T06:13:20.123Z`), ObjectIds 24 hex digits, binary data base64, decimal128 its decimal
// string, a timestamp its seconds as a date, a regex `/pattern/options`; NaN, ±infinity, minKey and
// maxKey become null. Documents and arrays nest.

extension BSONValue {
    /// The value as a Foundation JSON object for `JSONSerialization` (`[String: Any]`, `[Any]`,
    /// `String`, `Int`, `Double`, `Bool` or `NSNull`).
    public var plainJSON: Any {
        switch self {
        case .null, .minKey, .maxKey: NSNull()
        case .bool(let flag): flag
        case .int32(let number): Int(number)
        case .int64(let number): Int(number)
        case .double(let number): number.isFinite ? number : NSNull()
        case .string(let text): text
        case .date(let date): Self.rfc3339(milliseconds: Self.milliseconds(date))
        case .document(let document): document.plainJSONObject
        case .array(let values): values.map(\.plainJSON)
        case .objectID(let id): id.description
        case .binary(let binary): Data(binary.data).base64EncodedString()
        case .timestamp(let seconds, _): Self.rfc3339(milliseconds: Int64(seconds) * 1_000)
        case .regex(let pattern, let options): "/\(pattern)/\(options)"
        case .decimal128(let low, let high): Self.decimal128String(low: low, high: high)
        }
    }

    /// `2024-06-10T06:13:20.123Z` from milliseconds since 1970, computed from the integer (no
    /// floating-point rounding of the milliseconds).
    public static func rfc3339(milliseconds: Int64) -> String {
        var seconds = milliseconds / 1_000
        var fraction = milliseconds % 1_000
        if fraction < 0 {
            seconds -= 1
            fraction += 1_000
        }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
    }
}

extension Document {
    /// The document as a Foundation JSON object (see `BSONValue.plainJSON`); a repeated key keeps its
    /// last value.
    public var plainJSONObject: [String: Any] {
        var object: [String: Any] = [:]
        object.reserveCapacity(count)
        for (key, value) in elements { object[key] = value.plainJSON }
        return object
    }
}
