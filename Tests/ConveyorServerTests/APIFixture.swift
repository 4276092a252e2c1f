import Conveyor
import ConveyorHistory
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An HTTP reply: status, headers (lower-cased names) and the body parsed as JSON when it is JSON.
struct Reply {
    var status: Int
    var headers: [String: String]
    var body: Data
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
    subscript(header name: String) -> String? { headers[name.lowercased()] }
}

/// A small HTTP client over URLSession, talking to a real server on loopback.
struct HTTPClient: Sendable {
    let base: String
    var key: String?

    func send(_ method: String, _ path: String, json: Any? = nil, raw: String? = nil, headers: [String: String] = [:]) async throws -> Reply
    {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        if let key { request.setValue("Bearer " + key, forHTTPHeaderField: "Authorization") }
        if let json { request.httpBody = try JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed]) }
        if let raw { request.httpBody = Data(raw.utf8) }
        if request.httpBody != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var names: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { names[name.lowercased()] = value }
        }
        return Reply(status: http.statusCode, headers: names, body: data)
    }

    func get(_ path: String) async throws -> Reply { try await send("GET", path) }
    func post(_ path: String, _ json: Any? = nil) async throws -> Reply { try await send("POST", path, json: json) }
    func with(key: String?) -> HTTPClient { HTTPClient(base: base, key: key) }
}

/// The API keys every server under test knows.
enum Keys {
    static let admin = "admin-key-0001"
    static let submit = "submit-key-0001"
    static let read = "read-key-00001"
    static let limited = "limited-key-01"
    static let all = [
        APIKey(secret: admin, role: .admin), APIKey(secret: submit, role: .submit), APIKey(secret: read, role: .read),
        APIKey(secret: limited, role: .admin, rateLimit: RateLimit(count: 20, periodMilliseconds: 1_000, burst: 10)),
    ]
}

/// A running API server on a free port (real HTTP), on a fresh namespace and MongoDB database.
struct APIServer {
    let broker: Broker
    let mongo: MongoClient
    let port: Int
    /// The server's event feed, to count its subscriptions.
    let events: EventHub
    var subscribers: Int { events.subscriberCount }
    var client: HTTPClient { HTTPClient(base: "http://127.0.0.1:\(port)", key: Keys.admin) }
}

/// Runs `body` against `servers` API instances sharing one namespace and database; `history` also
/// runs a history writer, `worker` a worker and a promoter.
func withAPI<T>(
    servers count: Int = 1, history: Bool = false, worker: Bool = false, mongoURL: String? = nil, redis: TestRedis = .shared,
    logger: Logger = quietLogger, events: EventHubOptions = EventHubOptions(),
    configureBroker: (inout BrokerConfiguration) -> Void = { _ in },
    configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: ([APIServer]) async throws -> T
) async throws -> T {
    let mongoServer = try await TestMongo.shared
    let database = "api_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    let mongo = try MongoClient(configuration: MongoConfiguration(url: mongoURL ?? mongoServer.url(database: database)))
    defer {
        Task { [mongo] in
            try? await mongo.dropDatabase(); await mongo.close()
        }
    }
    return try await withBroker(redis: redis, configure: configureBroker) { broker in
        var configuration = ServerConfiguration(port: 0, keys: Keys.all)
        configure(&configuration)
        let ports = Mutex<[(Int, EventHub)]>([])
        var services: [any Service] = []
        for _ in 0..<count {
            let api = ConveyorAPI(broker: broker, mongo: mongo, configuration: configuration, eventOptions: events, logger: logger)
            services.append(api.makeApplication { port in ports.withLock { $0.append((port, api.events)) } })
        }
        if history {
            services.append(
                HistoryWriter(
                    broker: broker, mongo: mongo, options: HistoryWriterOptions(batch: 1_000, blockMilliseconds: 200), logger: quietLogger))
        }
        if worker {
            services.append(Promoter(broker: broker, logger: quietLogger))
            services.append(
                Worker(broker: broker, registry: testRegistry(), options: WorkerOptions(queues: ["default", "mail"]), logger: quietLogger))
        }
        return try await withServices(services) {
            try await eventually(timeout: 20, "API server did not start") { ports.withLock { $0.count } == count }
            let servers = ports.withLock { $0 }.map { APIServer(broker: broker, mongo: mongo, port: $0.0, events: $0.1) }
            return try await body(servers)
        }
    }
}

/// Checks a problem+json reply: status, the field at fault, and that `detail` says something.
func expectProblem(_ reply: Reply, _ status: Int, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "\(reply.text)", sourceLocation: sourceLocation)
    #expect(reply[header: "content-type"] == "application/problem+json", sourceLocation: sourceLocation)
    #expect(reply.json["status"] as? Int == status, sourceLocation: sourceLocation)
    #expect((reply.json["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    #expect(reply.json["title"] is String && reply.json["type"] is String, sourceLocation: sourceLocation)
    if let field { #expect(reply.json["field"] as? String == field, "\(reply.text)", sourceLocation: sourceLocation) }
}
