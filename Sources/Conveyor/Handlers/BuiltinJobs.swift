import Foundation

/// The job types every worker knows, so the cluster is useful from the CLI and REST API out of the box.
/// `register(in:)` registers all but `http`, whose handler (`HTTPJobHandler`, on async-http-client)
/// lives in the `ConveyorHTTPJob` library so this one does not depend on NIO; the CLI registers both.
public enum BuiltinJobs {
    /// `echo`: returns its payload.
    public struct Echo: JobParameters {
        public static let jobType = "echo"
        public var value: JSONValue
        public init(value: JSONValue) { self.value = value }
        public init(from decoder: any Decoder) throws { value = try JSONValue(from: decoder) }
        public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }

    /// `sleep`: `{"ms": N}` waits N milliseconds (cancellable).
    public struct Sleep: JobParameters {
        public static let jobType = "sleep"
        public var ms: Int
        public init(ms: Int) { self.ms = ms }
    }

    /// `math`: `{"op": "add|sub|mul|div", "a": x, "b": y}`; division by zero fails the attempt.
    public struct Math: JobParameters {
        public static let jobType = "math"
        public var op: String
        public var a: Double
        public var b: Double
        public init(op: String, a: Double, b: Double) {
            self.op = op
            self.a = a
            self.b = b
        }
    }

    /// `fail`: `{"times": N}` fails the first N attempts; `{"rate": 0.3}` fails at random.
    public struct Fail: JobParameters {
        public static let jobType = "fail"
        public var times: Int?
        public var rate: Double?
        public init(times: Int? = nil, rate: Double? = nil) {
            self.times = times
            self.rate = rate
        }
    }

    /// `http`: calls a URL; a non-2xx answer fails the attempt. This is how services in any language
    /// become workers. `timeout_ms` (default 30 s) is a deadline for the whole call. The handler is
    /// `HTTPJobHandler` in `ConveyorHTTPJob`.
    public struct HTTP: JobParameters {
        public static let jobType = "http"
        public var url: String
        public var method: String?
        public var headers: [String: String]?
        public var body: String?
        public var timeout_ms: Int?
        public init(url: String, method: String? = nil, headers: [String: String]? = nil, body: String? = nil, timeout_ms: Int? = nil) {
            self.url = url
            self.method = method
            self.headers = headers
            self.body = body
            self.timeout_ms = timeout_ms
        }
    }

    /// `noop`: does nothing; for benchmarks.
    public struct Noop: JobParameters {
        public static let jobType = "noop"
        public init() {}
    }

    /// What `http` returns: the status and up to 64 KiB of the body.
    public struct HTTPResult: Codable, Sendable {
        public var status: Int
        public var body: String
        public init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    /// Registers every built-in type but `http` (see the type's description).
    public static func register(in registry: inout JobRegistry) {
        registry.register(Echo.self) { (parameters: Echo, _: JobContext) in parameters.value }
        // The payload's own text: decoded into `JSONValue`, numbers would pass through `Double`.
        registry.registerText(Echo.jobType) { payload, _ in payload }
        registry.register(Sleep.self) { (parameters: Sleep, _: JobContext) in
            guard parameters.ms >= 0 else { throw ConveyorError(.invalidArgument, "ms must not be negative") }
            try await Task.sleep(for: .milliseconds(parameters.ms))
        }
        registry.register(Math.self) { (parameters: Math, _: JobContext) -> Double in
            switch parameters.op {
            case "add": return parameters.a + parameters.b
            case "sub": return parameters.a - parameters.b
            case "mul": return parameters.a * parameters.b
            case "div":
                guard parameters.b != 0 else { throw ConveyorError(.handler, "division by zero") }
                return parameters.a / parameters.b
            default: throw ConveyorError(.invalidArgument, "op must be add, sub, mul or div, got '\(parameters.op)'")
            }
        }
        registry.register(Fail.self) { (parameters: Fail, context: JobContext) in
            if let times = parameters.times, context.attempt <= times {
                throw ConveyorError(.handler, "failing on purpose: attempt \(context.attempt) of the first \(times)")
            }
            if let rate = parameters.rate, Double.random(in: 0..<1) < rate {
                throw ConveyorError(.handler, "failing on purpose at random (rate \(rate))")
            }
        }
        registry.register(Noop.self) { (_: Noop, _: JobContext) in }
    }
}
