import AsyncHTTPClient
import Conveyor
import Foundation
import NIOCore
import NIOHTTP1

/// The `http` job type (`BuiltinJobs.HTTP`): calls a URL with async-http-client; a non-2xx answer
/// fails the attempt. Its own target, so the core `Conveyor` library does not pull in NIO; the CLI
/// registers it next to the other built-ins.
///
/// - Connections are pooled and reused across jobs (one `HTTPClient` per handler, `HTTPClient.shared`
///   by default).
/// - `timeout_ms` (default 30,000) is a deadline for the whole call: connect, send, answer and body.
///   Past it the request is cancelled and the attempt fails with `no complete answer within N ms`.
/// - The body is read up to `maxBodyBytes` (64 KiB), then the request is dropped (its connection
///   closed) instead of downloading the rest: memory does not grow with the response, and the result's
///   `body` holds that prefix (as UTF-8 text).
/// - Cancelling the attempt (job cancelled, attempt timeout, shutdown) cancels the request.
public struct HTTPJobHandler: Sendable {
    /// The most bytes of a response body kept (and read).
    public static let maxBodyBytes = 65_536
    /// The deadline when the payload gives no `timeout_ms`.
    public static let defaultTimeoutMilliseconds = 30_000

    let client: HTTPClient

    /// A handler on `client` (its pool and event loops); the process-wide shared client by default.
    public init(client: HTTPClient = .shared) {
        self.client = client
    }

    /// Registers the `http` job type in `registry`.
    public func register(in registry: inout JobRegistry) {
        registry.register(BuiltinJobs.HTTP.self) { (parameters: BuiltinJobs.HTTP, _: JobContext) -> BuiltinJobs.HTTPResult in
            try await call(parameters)
        }
    }

    /// Runs one call: `{status, body}` for a 2xx answer; throws `ConveyorError.handler` for any other
    /// answer, a failed connection or the deadline, `.invalidArgument` for a bad URL, method or timeout.
    public func call(_ parameters: BuiltinJobs.HTTP) async throws -> BuiltinJobs.HTTPResult {
        guard let url = URL(string: parameters.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else { throw ConveyorError(.invalidArgument, "url must be an http:// or https:// URL, got '\(parameters.url)'") }
        let milliseconds = parameters.timeout_ms ?? Self.defaultTimeoutMilliseconds
        guard milliseconds > 0 else { throw ConveyorError(.invalidArgument, "timeout_ms must be more than 0, got \(milliseconds)") }
        let method = (parameters.method ?? "GET").uppercased()
        guard !method.isEmpty, method.utf8.allSatisfy({ (65...90).contains($0) || $0 == UInt8(ascii: "-") }) else {
            throw ConveyorError(.invalidArgument, "method must be an HTTP method such as GET or POST, got '\(parameters.method ?? "")'")
        }
        var request = HTTPClientRequest(url: parameters.url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in parameters.headers ?? [:] { request.headers.add(name: name, value: value) }
        if let body = parameters.body { request.body = .bytes(ByteBuffer(string: body)) }
        let what = "http \(method) \(parameters.url)"
        let client = client
        let prepared = request
        // The deadline covers the body too (async-http-client's own deadline ends with the head).
        let (status, body) =
            try await withThrowingTaskGroup(of: (Int, String)?.self) { group in
                group.addTask {
                    let response: HTTPClientResponse
                    do {
                        response = try await client.execute(prepared, deadline: .now() + .milliseconds(Int64(milliseconds)))
                    } catch let error as HTTPClientError where error == .deadlineExceeded {
                        return nil
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        throw ConveyorError(.handler, "\(what): \(error)")
                    }
                    var collected = ByteBuffer()
                    do {
                        for try await chunk in response.body {
                            let room = Self.maxBodyBytes - collected.readableBytes
                            var chunk = chunk
                            if let part = chunk.readSlice(length: min(room, chunk.readableBytes)) { collected.writeImmutableBuffer(part) }
                            if collected.readableBytes >= Self.maxBodyBytes { break }  // the rest is never read
                        }
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        throw ConveyorError(.handler, "\(what): the body failed after \(collected.readableBytes) bytes: \(error)")
                    }
                    return (Int(response.status.code), String(buffer: collected))
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(milliseconds))
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            } ?? { throw ConveyorError(.handler, "\(what): no complete answer within \(milliseconds) ms") }()
        guard (200..<300).contains(status) else {
            throw ConveyorError(.handler, "\(what) answered \(status): \(body.prefix(500))")
        }
        return BuiltinJobs.HTTPResult(status: status, body: body)
    }
}
