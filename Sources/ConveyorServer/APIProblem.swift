import Conveyor
import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem: every error the API returns, as `application/problem+json` with `type`,
/// `title`, `status`, `detail` and, for bad input, the offending `field`.
public struct APIProblem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var detail: String
    public var field: String?
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

    /// The problem's `type`: a stable identifier per status.
    public var type: String {
        "https://conveyor.dev/problems/" + status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "-")
    }

    public var jsonObject: [String: Any] {
        var object: [String: Any] = ["type": type, "title": status.reasonPhrase, "status": status.code, "detail": detail]
        if let field { object["field"] = field }
        return object
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(jsonObject, status: status, contentType: "application/problem+json")
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// JSON responses from Foundation objects.
enum JSONResponse {
    static func make(_ object: Any, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        Response(
            status: status, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: JSONText.string(object) + "\n")))
    }
}
