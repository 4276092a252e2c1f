import Foundation

/// Helpers for payloads and results kept as JSON text.
public enum JSONText {
    /// Checks that `text` is one JSON value (object, array, string, number, bool or null).
    public static func validate(_ text: String, what: String = "payload") throws(ConveyorError) {
        guard let data = text.data(using: .utf8),
            (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil
        else {
            throw ConveyorError(.invalidArgument, "\(what) is not valid JSON: \(text.prefix(80))")
        }
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

    /// Parses `2026-11-22T10:00:00Z`, with or without fractional seconds or an offset.
    public static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true))
    }
}
