import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

/// The route table and `API/openapi.yaml` describe the same API: every route, method and role.
@Suite("API contract: route table vs. API/openapi.yaml")
struct ContractTests {
    struct Operation: Hashable, CustomStringConvertible {
        var method: String
        var path: String
        var role: String?
        var description: String { "\(method) \(path) (\(role ?? "public"))" }
    }

    static func specOperations() throws -> Set<Operation> {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(APIDocument.json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations: Set<Operation> = []
        for (path, item) in paths {
            for (method, value) in item where ["get", "put", "post", "delete", "patch", "head", "options"].contains(method) {
                let operation = try #require(value as? [String: Any])
                let role = operation["x-role"] as? String
                // A route that needs a role says so with bearer security; a public one has none.
                let security = operation["security"] as? [[String: Any]]
                #expect((security?.isEmpty ?? true) == (role == nil), "\(method) \(path): security and x-role disagree")
                operations.insert(Operation(method: method.uppercased(), path: path, role: role))
            }
        }
        return operations
    }

    @Test func everyRouteIsInTheSpecAndNothingElse() throws {
        let spec = try Self.specOperations()
        let table = Set(ConveyorAPI.routes.map { Operation(method: $0.method.rawValue, path: $0.path, role: $0.role?.rawValue) })
        #expect(table.count == ConveyorAPI.routes.count, "a route is declared twice")
        #expect(table.subtracting(spec).isEmpty, "routes the spec lacks (or with another role): \(table.subtracting(spec))")
        #expect(spec.subtracting(table).isEmpty, "operations the server lacks (or with another role): \(spec.subtracting(table))")
    }

    @Test func theEmbeddedSpecIsTheFile() throws {
        let file = try String(contentsOf: repositoryRoot.appendingPathComponent("API/openapi.yaml"), encoding: .utf8)
        #expect(APIDocument.yaml == file)
    }

    @Test func theDashboardFileListIsTheFolder() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(APIDocument.json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let get = try #require(paths["/ui/{file}"]?["get"] as? [String: Any])
        let parameter = try #require((get["parameters"] as? [[String: Any]])?.first)
        let listed = try #require((parameter["schema"] as? [String: Any])?["enum"] as? [String])
        let folder = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Dashboard").path)
            .filter { !$0.hasPrefix(".") }
        #expect(listed.sorted() == folder.sorted())
        #expect(DashboardFiles.names == folder.sorted())
    }
}
