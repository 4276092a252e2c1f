import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Status and headers of one HTTP request to a `conveyor serve` process.
private func request(
    _ method: String, _ url: String, key: String?, body: String? = nil
) async throws -> (status: Int, headers: [String: String], body: String) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    if let key { request.setValue("Bearer " + key, forHTTPHeaderField: "Authorization") }
    if let body { request.httpBody = Data(body.utf8) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as! HTTPURLResponse
    var headers: [String: String] = [:]
    for (name, value) in http.allHeaderFields { if let name = name as? String { headers[name.lowercased()] = value as? String } }
    return (http.statusCode, headers, String(decoding: data, as: UTF8.self))
}

@Suite("conveyor serve: processes")
struct ServeProcessTests {
    @Test("without API keys serve refuses to start; bad keys and limits are rejected with exit 2")
    func refusesWithoutKeys() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        let port = String(try freePort())
        let none = try await cluster.run(["serve", "--port", port], environment: ["CONVEYOR_API_KEYS": ""])
        #expect(none.status == 2)
        #expect(none.error.contains("CONVEYOR_API_KEYS") && none.error.contains("--no-auth"), "\(none)")
        let bad = try await cluster.run(["serve", "--port", port], environment: ["CONVEYOR_API_KEYS": "secret-but-no-role"])
        #expect(bad.status == 2 && !bad.error.contains("secret-but-no-role"), "\(bad)")
        let limit = try await cluster.run(
            ["serve", "--port", port], environment: ["CONVEYOR_API_KEYS": "good-key-0001:admin", "CONVEYOR_RATE_LIMIT": "fast"])
        #expect(limit.status == 2 && limit.error.contains("rate limit"), "\(limit)")
    }

    @Test("two serve processes share one exact rate budget per key, and either serves any job")
    func twoReplicas() async throws {
        let mongo = try await TestMongo.shared
        let cluster = try Cluster(environment: [
            "CONVEYOR_API_KEYS": "proc-key-0001:admin,other-key-01:read", "CONVEYOR_RATE_LIMIT": "10/s:5",
            "CONVEYOR_MONGO_URL": mongo.url(database: "serve_" + UUID().uuidString.prefix(8).lowercased()),
        ])
        defer { cluster.close() }
        let ports = [try freePort(), try freePort()]
        let servers = try ports.map { try cluster.start(["serve", "--port", String($0), "--grpc-port", "0"]) }
        for (server, port) in zip(servers, ports) {
            try await eventually(timeout: 30, "serve did not start: \(server.errorOutput)") {
                server.output.contains("listening on http://127.0.0.1:\(port)")
            }
        }
        let urls = ports.map { "http://127.0.0.1:\($0)" }
        // Enqueue through one, read through the other.
        let created = try await request("POST", urls[0] + "/v1/jobs", key: "proc-key-0001", body: #"{"type":"echo"}"#)
        #expect(created.status == 201)
        let id = try #require((jsonObject(created.body) as? [String: Any])?["id"] as? String)
        #expect(try await request("GET", urls[1] + "/v1/jobs/" + id, key: "other-key-01").status == 200)
        // Let both keys' budgets refill completely.
        try await Task.sleep(for: .seconds(1))

        let start = Date()
        let (admitted, rejected) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for client in 0..<6 {
                group.addTask {
                    var counts = (0, 0)
                    while Date().timeIntervalSince(start) < 2 {
                        let reply = try await request("GET", urls[client % 2] + "/v1/queues", key: "proc-key-0001")
                        if reply.status == 200 { counts.0 += 1 } else if reply.status == 429 { counts.1 += 1 }
                    }
                    return counts
                }
            }
            return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        let span = Date().timeIntervalSince(start)
        #expect(admitted <= 5 + Int((10 * span).rounded(.down)), "admitted \(admitted) in \(span) s")
        // At least the burst and half the refill: six clients keep asking, but on a loaded machine their
        // requests come in bursts, and a full bucket (5) refills nothing while no one asks.
        #expect(admitted >= 5 + 10, "admitted \(admitted) in \(span) s")
        #expect(rejected > admitted)
        for server in servers {
            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: 20) == 0, "\(server.errorOutput)")
        }
    }
}
