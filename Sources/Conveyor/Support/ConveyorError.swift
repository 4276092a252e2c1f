/// An error from Conveyor, with a code that can grow without breaking callers.
public struct ConveyorError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, broadly.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let value: String
        private init(_ value: String) { self.value = value }
        /// Bad input: a malformed duration, payload, name or number.
        public static let invalidArgument = Code("invalid argument")
        /// No such job.
        public static let notFound = Code("not found")
        /// Redis failed or answered something unexpected.
        public static let redis = Code("redis")
        /// A handler failed; the message is the attempt's error.
        public static let handler = Code("handler")
        /// A handler ran past its timeout.
        public static let timeout = Code("timeout")
        public var description: String { value }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
