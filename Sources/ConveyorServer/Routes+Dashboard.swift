import Conveyor
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Where the dashboard's files come from: embedded in the binary at build time (`Dashboard/`), or a
/// folder (`--dashboard-dir`, for development: edits show on reload).
public enum DashboardFiles {
    /// The embedded file `name` (`index.html`, `app.js`, …).
    public static func embedded(_ name: String) -> String? { EmbeddedFiles.files["Dashboard/" + name] }

    /// Names of the embedded files.
    public static var names: [String] {
        EmbeddedFiles.files.keys.filter { $0.hasPrefix("Dashboard/") }.map { String($0.dropFirst("Dashboard/".count)) }.sorted()
    }

    /// A file name the routes serve: letters, digits, `.`, `_`, `-`, not starting with a dot (so no
    /// path ever leaves its folder).
    static func isSafe(_ name: String) -> Bool {
        (1...100).contains(name.count) && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }
    }

    static func contentType(_ name: String) -> String {
        switch name.split(separator: ".").last ?? "" {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "json", "map": "application/json"
        case "svg": "image/svg+xml"
        default: "text/plain; charset=utf-8"
        }
    }
}

extension ConveyorAPI {
    /// `GET /` and `GET /ui/{file}`: the dashboard.
    func dashboardFile(_ name: String) throws -> Response {
        guard DashboardFiles.isSafe(name) else { throw APIProblem(.notFound, "no dashboard file '\(name.prefix(100))'", field: "file") }
        let text: String?
        if let directory = configuration.dashboardDirectory {
            text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)
        } else {
            text = DashboardFiles.embedded(name)
        }
        guard let text else { throw APIProblem(.notFound, "no dashboard file '\(name)'", field: "file") }
        return Self.fileResponse(ByteBuffer(string: text), name: name)
    }

    /// `GET /vendor/chart.js/{file}`: Chart.js from its Debian package (`libjs-chart.js`), read from
    /// its install folder.
    func vendorFile(_ name: String) throws -> Response {
        let folder = configuration.vendorDirectory + "/chart.js"
        guard DashboardFiles.isSafe(name) else { throw APIProblem(.notFound, "no vendor file '\(name.prefix(100))'", field: "file") }
        guard let data = FileManager.default.contents(atPath: folder + "/" + name) else {
            throw APIProblem(
                .notFound, "no file '\(name)' in \(folder) (Chart.js comes from Debian's libjs-chart.js: make deps)", field: "file")
        }
        return Self.fileResponse(ByteBuffer(bytes: data), name: name)
    }

    static func fileResponse(_ buffer: ByteBuffer, name: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: DashboardFiles.contentType(name), .cacheControl: "no-cache",
                .init("X-Content-Type-Options")!: "nosniff",
            ],
            body: ResponseBody(byteBuffer: buffer))
    }
}
