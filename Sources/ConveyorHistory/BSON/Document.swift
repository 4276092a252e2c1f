/// A BSON document: fields in order (order matters to MongoDB for sort specs and index keys).
///
/// Reading a missing field gives nil; assigning nil removes the field; assigning an existing key
/// replaces its value in place.
public struct Document: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public private(set) var keys: [String] = []
    public private(set) var values: [BSONValue] = []

    /// An empty document.
    public init() {}

    /// A document with these fields, in this order (a repeated key keeps its last value).
    public init(_ elements: some Sequence<(String, BSONValue)>) {
        var positions: [String: Int] = [:]
        for (key, value) in elements {
            if let index = positions[key] {
                values[index] = value
            } else {
                positions[key] = keys.count
                append(key, value)
            }
        }
    }

    public init(dictionaryLiteral elements: (String, BSONValue)...) {
        self.init(elements)
    }

    /// The number of fields.
    public var count: Int { keys.count }

    /// True when the document has no field.
    public var isEmpty: Bool { keys.isEmpty }

    /// The fields in order.
    public var elements: [(key: String, value: BSONValue)] {
        zip(keys, values).map { (key: $0, value: $1) }
    }

    /// The value of a field; nil when absent. Setting nil removes the field. (A linear search: build
    /// documents of thousands of fields with `init(_:)`.)
    public subscript(key: String) -> BSONValue? {
        get { keys.firstIndex(of: key).map { values[$0] } }
        set {
            if let index = keys.firstIndex(of: key) {
                if let newValue {
                    values[index] = newValue
                } else {
                    keys.remove(at: index)
                    values.remove(at: index)
                }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// Appends a field without looking for an existing one (for decoding, where keys are unique).
    mutating func append(_ key: String, _ value: BSONValue) {
        keys.append(key)
        values.append(value)
    }

    public var description: String { BSONValue.document(self).jsonText }
}
