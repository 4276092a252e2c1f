/// A value that can be sent as one argument of a Redis command, binary-safe.
public protocol RedisArgument: Sendable {
    /// The argument's bytes as Redis receives them.
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}
