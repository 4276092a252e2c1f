import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The job types every worker knows, so the cluster is useful from the CLI and REST API out of the box.
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
    /// become workers.
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
    }

    /// Registers every built-in type.
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
        registry.register(HTTP.self) { (parameters: HTTP, _: JobContext) -> HTTPResult in try await call(parameters) }
    }

    static func call(_ parameters: HTTP) async throws -> HTTPResult {
        guard let url = URL(string: parameters.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else { throw ConveyorError(.invalidArgument, "url must be an http:// or https:// URL, got '\(parameters.url)'") }
        var request = URLRequest(url: url)
        request.httpMethod = (parameters.method ?? "GET").uppercased()
        request.timeoutInterval = Double(parameters.timeout_ms ?? 30_000) / 1000
        for (name, value) in parameters.headers ?? [:] { request.setValue(value, forHTTPHeaderField: name) }
        if let body = parameters.body { request.httpBody = Data(body.utf8) }
        let method = request.httpMethod ?? "GET"
        let finalRequest = request
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let box = TaskBox()
        let (data, response): (Data, URLResponse) = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: finalRequest) { data, response, error in
                    if let error {
                        continuation.resume(
                            throwing: ConveyorError(.handler, "http \(method) \(parameters.url): \(error.localizedDescription)"))
                    } else if let data, let response {
                        continuation.resume(returning: (data, response))
                    } else {
                        continuation.resume(throwing: ConveyorError(.handler, "http: no response"))
                    }
                }
                box.set(task)
                task.resume()
            }
        } onCancel: {
            box.cancel()
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let text = String(decoding: data.prefix(65_536), as: UTF8.self)
        guard (200..<300).contains(status) else {
            throw ConveyorError(.handler, "http \(method) \(parameters.url) answered \(status): \(text.prefix(500))")
        }
        return HTTPResult(status: status, body: text)
    }
}

/// Holds a URLSessionTask so a cancellation handler can cancel it.
/// `@unchecked Sendable`: the task is only read and written under `lock`.
private final class TaskBox: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionTask?
    private var cancelled = false

    func set(_ task: URLSessionTask) {
        lock.lock()
        self.task = task
        let cancelNow = cancelled
        lock.unlock()
        if cancelNow { task.cancel() }
    }

    func cancel() {
        lock.lock()
        cancelled = true
        let task = self.task
        lock.unlock()
        task?.cancel()
    }
}
