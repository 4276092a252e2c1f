/// A reply from Redis (RESP2), decoded from hiredis's `redisReply` into a Swift value.
public enum RedisValue: Sendable, Hashable {
    case null
    case status(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case array([RedisValue])

    /// The reply as text: bulk strings and status replies as UTF-8, integers in decimal.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    /// The reply as an integer: integer replies, and bulk strings that hold a decimal number.
    public var int: Int? {
        switch self {
        case .integer(let value): return value
        case .bulk, .status: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; `nil` for any other reply.
    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// True for the nil reply.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Reads a flat `[field, value, field, value, ...]` array (HGETALL) as a dictionary.
    public var fieldMap: [String: String]? {
        guard let values = array else { return nil }
        var map: [String: String] = [:]
        map.reserveCapacity(values.count / 2)
        var index = 0
        while index + 1 < values.count {
            if let key = values[index].string { map[key] = values[index + 1].string ?? "" }
            index += 2
        }
        return map
    }
}
