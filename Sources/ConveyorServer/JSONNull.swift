import Conveyor
import ConveyorHistory
import Foundation

/// History documents as the API shows them: plain JSON, with dates as RFC 3339 UTC strings,
/// ObjectIds as hex and binary data as base64 (no MongoDB extended-JSON wrappers).
enum PlainJSON {
    static func object(_ document: Document) -> [String: Any] {
        var object: [String: Any] = [:]
        for (key, value) in document.elements { object[key] = self.value(value) }
        return object
    }

    static func value(_ value: BSONValue) -> Any {
        switch value {
        case .null, .minKey, .maxKey: return NSNull()
        case .bool(let flag): return flag
        case .int32(let number): return Int(number)
        case .int64(let number): return Int(number)
        case .double(let number): return number.isFinite ? number : NSNull()
        case .string(let text): return text
        case .date(let date): return RFC3339.string(date)
        case .document(let document): return object(document)
        case .array(let values): return values.map(self.value)
        case .objectID(let id): return id.description
        case .binary(let binary): return Data(binary.data).base64EncodedString()
        case .timestamp(let seconds, _): return RFC3339.string(Date(timeIntervalSince1970: Double(seconds)))
        case .regex(let pattern, let options): return "/\(pattern)/\(options)"
        case .decimal128: return NSNull()
        }
    }
}

/// The value, or JSON null.
func orNull(_ value: (some Any)?) -> Any { value.map { $0 as Any } ?? NSNull() }
