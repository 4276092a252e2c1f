import Conveyor
import Foundation
import Hummingbird

/// A strict reader of one JSON object from a request: unknown fields, wrong types, and numbers out
/// of range are rejected with a 400 that names the field (dotted path, e.g. `jobs[3].backoff.kind`).
struct JSONInput {
    let object: [String: Any]
    /// The path of this object inside the request body ("" for the body itself).
    let path: String
    /// The bytes this object was parsed from (the body, or a batch entry's part of it): values are
    /// copied from them as sent.
    let body: Data?

    init(object: [String: Any], path: String = "", body: Data? = nil) {
        self.object = object
        self.path = path
        self.body = body
    }

    /// Parses a whole body, which must be one JSON object.
    init(body: ByteBuffer) throws(APIProblem) {
        guard body.readableBytes > 0 else { throw APIProblem.invalid(nil, "the request body is empty; send a JSON object") }
        let data = Data(body.readableBytesView)
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            // Valid JSON that Foundation refuses: a number out of a double's range (`1E400`). Name it.
            let text = String(decoding: data, as: UTF8.self)
            if RawJSON(text) != nil, let path = JSONText.nonFiniteNumberPath(text), !path.isEmpty {
                var components = path.split(separator: ".").map(String.init)
                if let payload = components.firstIndex(where: { $0 == "payload" || $0.hasPrefix("payload[") }) {
                    components = Array(components[..<payload]) + ["payload"]
                }
                throw APIProblem.invalid(components.joined(separator: "."), JSONText.nonFiniteNumberError(path: path).message)
            }
            throw APIProblem.invalid(nil, "the request body is not valid JSON")
        }
        guard let object = value as? [String: Any] else { throw APIProblem.invalid(nil, "the request body must be a JSON object") }
        self.init(object: object, body: data)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// Rejects fields outside `allowed`.
    func allowOnly(_ allowed: Set<String>) throws(APIProblem) {
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw APIProblem.invalid(name(key), "unknown field '\(name(key))'; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// The value, nil when absent (null is a value: a typed field refuses it).
    func value(_ key: String) -> Any? { object[key] }

    func string(_ key: String, required: Bool = false) throws(APIProblem) -> String? {
        guard let value = value(key) else {
            if required { throw APIProblem.invalid(name(key), "'\(name(key))' is required") }
            return nil
        }
        guard let text = value as? String else { throw APIProblem.invalid(name(key), "'\(name(key))' must be a string") }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(APIProblem) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = Self.number(value), number.rounded() == number, let integer = Int(exactly: number) else {
            throw APIProblem.invalid(name(key), "'\(name(key))' must be a whole number")
        }
        guard range.contains(integer) else {
            throw APIProblem.invalid(name(key), "'\(name(key))' must be from \(range.lowerBound) to \(range.upperBound), got \(integer)")
        }
        return integer
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws(APIProblem) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = Self.number(value) else { throw APIProblem.invalid(name(key), "'\(name(key))' must be a number") }
        guard range.contains(number) else {
            throw APIProblem.invalid(name(key), "'\(name(key))' must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func bool(_ key: String) throws(APIProblem) -> Bool? {
        guard let value = value(key) else { return nil }
        guard !(value is NSNull), Self.isBool(value), let flag = value as? Bool else {
            throw APIProblem.invalid(name(key), "'\(name(key))' must be true or false")
        }
        return flag
    }

    func object(_ key: String) throws(APIProblem) -> JSONInput? {
        guard let value = value(key) else { return nil }
        guard let object = value as? [String: Any] else { throw APIProblem.invalid(name(key), "'\(name(key))' must be an object") }
        return JSONInput(object: object, path: name(key))
    }

    func array(_ key: String) throws(APIProblem) -> [Any]? {
        guard let value = value(key) else { return nil }
        guard let array = value as? [Any] else { throw APIProblem.invalid(name(key), "'\(name(key))' must be an array") }
        return array
    }

    /// Any JSON value as JSON text: the body's own bytes when it can tell them apart, else the parsed
    /// value serialised again (compact, sorted keys).
    func jsonText(_ key: String) -> String? {
        guard let value = object[key] else { return nil }
        if let body, let raw = body.withUnsafeBytes({ JSONText.rawMember(key, in: $0) }) { return raw }
        return JSONText.string(value)
    }

    func enumeration<T: RawRepresentable>(_ key: String, _ type: T.Type, choices: [String]) throws(APIProblem) -> T?
    where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text), choices.contains(text) else {
            throw APIProblem.invalid(
                name(key), "'\(name(key))' must be one of \(choices.joined(separator: ", ")), got '\(text.prefix(40))'")
        }
        return value
    }

    func date(_ key: String) throws(APIProblem) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = RFC3339.date(text, requireOffset: true) else {
            throw APIProblem.invalid(name(key), "'\(name(key))' must be an RFC 3339 time such as 2026-11-22T10:00:00Z")
        }
        return date
    }

    /// JSON numbers arrive as NSNumber; a boolean is one too, and must not pass for 0 or 1.
    static func number(_ value: Any) -> Double? {
        guard !isBool(value), let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        return double.isFinite ? double : nil
    }

    static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c" || type(of: value) == Bool.self
    }
}
