/// An error from the Redis client: connection trouble, a timeout, or an error reply from the server.
///
/// The code can grow without breaking callers; `message` carries hiredis's or the server's words.
public struct RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String { case connection, timeout, server, protocolError, invalidURL, closed }
        fileprivate let value: Value
        /// Could not connect, or the connection dropped (the pool reconnects on next use).
        public static let connection = Code(value: .connection)
        /// No reply within the command timeout.
        public static let timeout = Code(value: .timeout)
        /// Redis answered with an error reply (`ERR ...`, `NOSCRIPT ...`, or an error raised by a script).
        public static let server = Code(value: .server)
        /// A reply the client did not expect.
        public static let protocolError = Code(value: .protocolError)
        /// A malformed `redis://` or `unix://` URL.
        public static let invalidURL = Code(value: .invalidURL)
        /// The pool was shut down.
        public static let closed = Code(value: .closed)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// True when retrying on a new connection can help (the connection broke or timed out).
    public var isConnectionProblem: Bool { code == .connection || code == .timeout || code == .closed }

    public var description: String { "redis \(code): \(message)" }
}
