import Conveyor
import Foundation

/// Writes `Encodable` response types as JSON text, the one wire format of the REST API and the CLI.
///
/// Why not Foundation's `JSONEncoder`: it cannot embed JSON text as it is, and payloads and results
/// must leave Conveyor byte for byte as they were stored (`RawJSON`; a parse/re-serialise turns
/// `9007199254740993` into `9007199254740992` and `1.10` into `1.1`). Conventions, so the types stay
/// plain structs:
/// - property names become snake_case (`maxAttempts` → `max_attempts`); dictionary keys (queue
///   names, types) are written as they are, in sorted order;
/// - a nil optional is written as `null` (`nilStyle: .null`, the REST shape) or left out (`.omit`);
/// - `Date` is an RFC 3339 UTC string with milliseconds;
/// - non-finite numbers are refused (`EncodingError`), as JSON has no form for them.
public struct JSONBodyEncoder: Sendable {
    /// What a nil optional becomes.
    public enum NilStyle: Sendable { case null, omit }

    public var nilStyle: NilStyle
    /// Indents objects and arrays by two spaces (embedded `RawJSON` stays as it is).
    public var pretty: Bool

    public init(nilStyle: NilStyle = .null, pretty: Bool = false) {
        self.nilStyle = nilStyle
        self.pretty = pretty
    }

    /// The JSON text of `value`.
    public func string(_ value: some Encodable) throws -> String {
        let tree = try JSONTreeEncoder(nilStyle: nilStyle).tree(of: value)
        var output = ""
        tree.write(to: &output, pretty: pretty, indent: 0)
        return output
    }
}

extension RawJSON: Encodable {
    /// JSON text kept as it is (surrounding white space dropped); text that is not JSON (never stored
    /// by Conveyor, but Redis can be written by anyone) becomes a JSON string.
    public init(lenient text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // swift-format-ignore: NeverForceUnwrap
        self = RawJSON(trimmed) ?? RawJSON(JSONTree.quoted(text))!
    }

    /// Foundation objects (as from `Document.historyJSONObject`), serialised once by `JSONText.string`.
    public init(object: Any) {
        // swift-format-ignore: NeverForceUnwrap
        self = RawJSON(JSONText.string(object))!
    }

    /// `JSONBodyEncoder` writes the text as it is; any other encoder gets it as a JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

// MARK: the tree

/// A JSON value under construction; objects and arrays are boxes so containers can fill them later.
enum JSONTree {
    case raw(String)
    case object(ObjectBox)
    case array(ArrayBox)

    final class ObjectBox {
        var members: [(key: String, value: JSONTree)] = []
        var positions: [String: Int] = [:]

        func set(_ key: String, _ value: JSONTree) {
            if let position = positions[key] {
                members[position].value = value
            } else {
                positions[key] = members.count
                members.append((key, value))
            }
        }
    }

    final class ArrayBox {
        var items: [JSONTree] = []
    }

    static func quoted(_ text: String) -> String {
        var output = "\""
        output.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}":
                output += String(format: "\\u%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    func write(to output: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .raw(let text):
            output += text
        case .object(let box):
            guard !box.members.isEmpty else {
                output += "{}"
                return
            }
            output += "{"
            for (index, member) in box.members.enumerated() {
                if index > 0 { output += "," }
                if pretty { output += "\n" + String(repeating: "  ", count: indent + 1) }
                output += Self.quoted(member.key) + (pretty ? ": " : ":")
                member.value.write(to: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { output += "\n" + String(repeating: "  ", count: indent) }
            output += "}"
        case .array(let box):
            guard !box.items.isEmpty else {
                output += "[]"
                return
            }
            output += "["
            for (index, item) in box.items.enumerated() {
                if index > 0 { output += "," }
                if pretty { output += "\n" + String(repeating: "  ", count: indent + 1) }
                item.write(to: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { output += "\n" + String(repeating: "  ", count: indent) }
            output += "]"
        }
    }
}

/// Dictionaries with string keys are objects whose keys are data, not property names: written as
/// they are (no snake_case), sorted.
private protocol StringKeyedDictionary {
    func sortedMembers() -> [(String, any Encodable)]
}

extension Dictionary: StringKeyedDictionary where Key == String, Value: Encodable {
    fileprivate func sortedMembers() -> [(String, any Encodable)] { sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}

/// The `Encoder` behind `JSONBodyEncoder`.
struct JSONTreeEncoder {
    let nilStyle: JSONBodyEncoder.NilStyle

    func tree(of value: some Encodable) throws -> JSONTree {
        try tree(of: value as any Encodable, path: [])
    }

    func tree(of value: any Encodable, path: [any CodingKey]) throws -> JSONTree {
        switch value {
        case let text as String: return .raw(JSONTree.quoted(text))
        case let flag as Bool: return .raw(flag ? "true" : "false")
        case let date as Date: return .raw(JSONTree.quoted(RFC3339.string(date)))
        case let raw as RawJSON: return .raw(raw.text)
        case let number as Double: return .raw(try Self.number(number, path: path))
        case let number as Float: return .raw(try Self.number(Double(number), path: path))
        case let dictionary as any StringKeyedDictionary:
            let box = JSONTree.ObjectBox()
            for (key, member) in dictionary.sortedMembers() { box.set(key, try tree(of: member, path: path + [AnyKey(key)])) }
            return .object(box)
        default:
            if let integer = Self.integerText(value) { return .raw(integer) }
            let node = Node(owner: self, path: path)
            try value.encode(to: node)
            return node.storage ?? .object(JSONTree.ObjectBox())
        }
    }

    static func integerText(_ value: Any) -> String? {
        switch value {
        case let value as Int: return String(value)
        case let value as Int64: return String(value)
        case let value as Int32: return String(value)
        case let value as UInt64: return String(value)
        case let value as UInt32: return String(value)
        case let value as UInt: return String(value)
        default: return nil
        }
    }

    static func number(_ value: Double, path: [any CodingKey]) throws -> String {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: "\(value) has no JSON form"))
        }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// camelCase → snake_case, as property names become wire names.
    static func snakeCase(_ name: String) -> String {
        guard name.contains(where: \.isUppercase) else { return name }
        var output = ""
        for character in name {
            if character.isUppercase {
                if !output.isEmpty { output += "_" }
                output += character.lowercased()
            } else {
                output.append(character)
            }
        }
        return output
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ string: String) { self.stringValue = string }
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) {
            self.stringValue = String(intValue)
            self.intValue = intValue
        }
    }

    /// One value being encoded: holds what its container wrote.
    final class Node: Encoder {
        let owner: JSONTreeEncoder
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        var storage: JSONTree?

        init(owner: JSONTreeEncoder, path: [any CodingKey]) {
            self.owner = owner
            self.codingPath = path
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            let box: JSONTree.ObjectBox
            if case .object(let existing)? = storage {
                box = existing
            } else {
                box = JSONTree.ObjectBox()
                storage = .object(box)
            }
            return KeyedEncodingContainer(Keyed<Key>(node: self, box: box))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            let box: JSONTree.ArrayBox
            if case .array(let existing)? = storage {
                box = existing
            } else {
                box = JSONTree.ArrayBox()
                storage = .array(box)
            }
            return Unkeyed(node: self, box: box)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: self) }

        func child(_ value: any Encodable, key: any CodingKey) throws -> JSONTree {
            try owner.tree(of: value, path: codingPath + [key])
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let box: JSONTree.ObjectBox
        var codingPath: [any CodingKey] { node.codingPath }

        func name(_ key: Key) -> String { JSONTreeEncoder.snakeCase(key.stringValue) }

        mutating func encodeNil(forKey key: Key) throws { box.set(name(key), .raw("null")) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { box.set(name(key), try node.child(value, key: key)) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { box.set(name(key), .raw(value ? "true" : "false")) }
        mutating func encode(_ value: String, forKey key: Key) throws { box.set(name(key), .raw(JSONTree.quoted(value))) }
        mutating func encode(_ value: Double, forKey key: Key) throws {
            box.set(name(key), .raw(try JSONTreeEncoder.number(value, path: codingPath + [key])))
        }
        mutating func encode(_ value: Int, forKey key: Key) throws { box.set(name(key), .raw(String(value))) }

        /// Every optional goes through here: `null` or nothing, as the encoder's `nilStyle` says.
        mutating func present<T: Encodable>(_ value: T?, _ key: Key) throws {
            if let value {
                try encode(value, forKey: key)
            } else if node.owner.nilStyle == .null {
                try encodeNil(forKey: key)
            }
        }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            let nested = Node(owner: node.owner, path: codingPath + [key])
            let container = nested.container(keyedBy: keyType)
            if let storage = nested.storage { box.set(name(key), storage) }
            return container
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = Node(owner: node.owner, path: codingPath + [key])
            let container = nested.unkeyedContainer()
            if let storage = nested.storage { box.set(name(key), storage) }
            return container
        }

        mutating func superEncoder() -> any Encoder { node }
        mutating func superEncoder(forKey key: Key) -> any Encoder { node }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let box: JSONTree.ArrayBox
        var codingPath: [any CodingKey] { node.codingPath }
        var count: Int { box.items.count }

        mutating func encodeNil() throws { box.items.append(.raw("null")) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            box.items.append(try node.child(value, key: AnyKey(intValue: box.items.count)))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let nested = Node(owner: node.owner, path: codingPath + [AnyKey(intValue: count)])
            let container = nested.container(keyedBy: keyType)
            if let storage = nested.storage { box.items.append(storage) }
            return container
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = Node(owner: node.owner, path: codingPath + [AnyKey(intValue: count)])
            let container = nested.unkeyedContainer()
            if let storage = nested.storage { box.items.append(storage) }
            return container
        }

        mutating func superEncoder() -> any Encoder { node }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] { node.codingPath }

        mutating func encodeNil() throws { node.storage = .raw("null") }
        mutating func encode<T: Encodable>(_ value: T) throws { node.storage = try node.owner.tree(of: value, path: codingPath) }
    }
}
