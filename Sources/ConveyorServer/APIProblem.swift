import Conveyor
import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem: every error the API returns, as `application/problem+json` with `type`,
/// `title`, `status`, `detail` and, for bad input, the offending `field` (`Problem` in the spec).
public struct APIProblem: Error, HTTPResponseError, Sendable, Encodable {
    public var status: HTTPResponse.Status
    public var detail: String
    public var field: String?
    /// Per-check results, for `/readyz`.
    public var checks: [String: String]?
    /// Extra headers, such as `Retry-After` or `Allow`.
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ detail: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers
    }

    /// A 400 naming the field at fault.
    public static func invalid(_ field: String?, _ detail: String) -> APIProblem {
        APIProblem(.badRequest, detail, field: field)
    }

    /// The `Retry-After` seconds of a 429, for front ends without HTTP headers.
    public var retryAfter: String? { headers[.retryAfter] }

    /// The problem's `type`: a stable identifier per status.
    public var type: String {
        "https://conveyor.dev/problems/" + status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "-")
    }

    enum CodingKeys: CodingKey { case type, title, status, detail, field, checks }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(status.reasonPhrase, forKey: .title)
        try container.encode(status.code, forKey: .status)
        try container.encode(detail, forKey: .detail)
        if let field { try container.encode(field, forKey: .field) }
        if let checks { try container.encode(checks, forKey: .checks) }
    }

    /// The problem as its response, with its headers.
    func makeResponse() -> Response {
        // swift-format-ignore: NeverUseForceTry
        var response = try! JSONResponse.make(self, status: status, contentType: "application/problem+json")
        response.headers.append(contentsOf: headers)
        return response
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response { makeResponse() }
}

/// JSON responses from the typed bodies.
enum JSONResponse {
    static let encoder = JSONBodyEncoder()

    static func make(_ body: some Encodable, status: HTTPResponse.Status = .ok, contentType: String = "application/json") throws
        -> Response
    {
        Response(
            status: status, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: try encoder.string(body) + "\n")))
    }
}

/// The OpenAPI document, `API/openapi.yaml`, embedded at build time with its JSON form.
public enum APIDocument {
    /// The document as written.
    public static var yaml: String { EmbeddedFiles.files["API/openapi.yaml"] ?? "" }
    /// The same document as JSON (converted from the YAML at build time).
    public static var json: String { EmbeddedFiles.files["API/openapi.json"] ?? "{}" }

    static func response(json: Bool) -> Response {
        Response(
            status: .ok, headers: [.contentType: json ? "application/json" : "application/yaml"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json ? self.json : yaml)))
    }
}
