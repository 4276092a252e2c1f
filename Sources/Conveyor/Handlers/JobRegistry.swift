import Foundation

/// The handlers a worker can run, by job type.
///
/// There is one way to register a job type: `register(_:handler:)` with its ``JobParameters``
/// type. The handler's return value (any `Encodable`, or nothing) becomes the job's result.
public struct JobRegistry: Sendable {
    /// A registered handler: takes the payload JSON text, returns the result JSON text ("" for none).
    public typealias Handler = @Sendable (_ payload: String, _ context: JobContext) async throws -> String

    private(set) var handlers: [String: Handler] = [:]

    public init() {}

    /// The registered job types.
    public var types: [String] { handlers.keys.sorted() }

    /// Registers the handler for `Parameters.jobType`, replacing an earlier one.
    public mutating func register<Parameters: JobParameters, Result: Encodable & Sendable>(
        _ parameters: Parameters.Type,
        handler: @escaping @Sendable (Parameters, JobContext) async throws -> Result
    ) {
        handlers[Parameters.jobType] = { payload, context in
            let decoded: Parameters
            do {
                decoded = try JSONDecoder().decode(Parameters.self, from: Data(payload.utf8))
            } catch {
                throw ConveyorError(.invalidArgument, "payload does not fit \(Parameters.jobType): \(Self.describe(error))")
            }
            let result = try await handler(decoded, context)
            if result is NoResult { return "" }
            let data = try JSONEncoder().encode(result)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Registers a handler that returns nothing.
    public mutating func register<Parameters: JobParameters>(
        _ parameters: Parameters.Type,
        handler: @escaping @Sendable (Parameters, JobContext) async throws -> Void
    ) {
        register(parameters) { (value: Parameters, context: JobContext) async throws -> NoResult in
            try await handler(value, context)
            return NoResult()
        }
    }

    /// Registers a handler that works on the payload's JSON text itself (for built-ins that must not
    /// re-encode it, such as `echo`).
    mutating func registerText(_ type: String, handler: @escaping Handler) {
        handlers[type] = handler
    }

    /// The handler for a type, if one is registered.
    public func handler(for type: String) -> Handler? { handlers[type] }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type at '\(path)': \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        default: return "\(error)"
        }
    }
}

/// The result of a handler that returns nothing.
struct NoResult: Encodable, Sendable {}
