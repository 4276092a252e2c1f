import HTTPTypes
import Hummingbird

/// One route of the REST API, declared once: its method, path (OpenAPI template, `{id}`), the role it
/// needs (nil: public) and its handler. `ConveyorAPI.routes` is the table the router registers, the
/// role check and the `Allow` header of a 405 read, and that the spec test compares with
/// `API/openapi.yaml` (each operation's `x-role`).
public struct APIRoute: Sendable {
    public typealias Handler = @Sendable (ConveyorAPI, Request, ConveyorRequestContext) async throws -> Response

    public let method: HTTPRequest.Method
    public let path: String
    public let role: APIRole?
    let handler: Handler

    init(_ method: HTTPRequest.Method, _ path: String, _ role: APIRole?, _ handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.role = role
        self.handler = handler
    }

    /// Whether `path` (a request path) matches this route's template, and how many literal segments
    /// matched (a literal segment wins over a `{…}` one).
    func match(_ segments: [Substring]) -> Int? {
        let pattern = path.split(separator: "/", omittingEmptySubsequences: false)
        guard pattern.count == segments.count else { return nil }
        var literals = 0
        for (expected, actual) in zip(pattern, segments) {
            if expected.hasPrefix("{") {
                if actual.isEmpty { return nil }
            } else if expected == actual {
                literals += 1
            } else {
                return nil
            }
        }
        return literals
    }
}

extension ConveyorAPI {
    /// Every route of the API.
    public static let routes: [APIRoute] = [
        APIRoute(.post, "/v1/jobs", .submit) { api, request, context in try await api.enqueueOne(request, context) },
        APIRoute(.get, "/v1/jobs", .read) { api, request, _ in try await api.listJobs(request) },
        APIRoute(.post, "/v1/jobs/batch", .submit) { api, request, _ in try await api.enqueueBatch(request) },
        APIRoute(.get, "/v1/jobs/{id}", .read) { api, request, context in try await api.showJob(request, context) },
        APIRoute(.patch, "/v1/jobs/{id}", .admin) { api, request, context in try await api.patchJob(request, context) },
        APIRoute(.post, "/v1/jobs/{id}/cancel", .admin) { api, _, context in
            try JSONResponse.make(try await api.cancelJob(try jobID(context)))
        },
        APIRoute(.post, "/v1/jobs/{id}/retry", .admin) { api, _, context in
            try JSONResponse.make(try await api.retryJob(try jobID(context)))
        },
        APIRoute(.get, "/v1/queues", .read) { api, request, _ in try await api.listQueues(request) },
        APIRoute(.post, "/v1/queues/{name}/pause", .admin) { api, _, context in
            try JSONResponse.make(try await api.setPaused(queue: context.parameters.get("name") ?? "", true))
        },
        APIRoute(.post, "/v1/queues/{name}/resume", .admin) { api, _, context in
            try JSONResponse.make(try await api.setPaused(queue: context.parameters.get("name") ?? "", false))
        },
        APIRoute(.get, "/v1/dead", .read) { api, request, _ in try await api.listDead(request) },
        APIRoute(.post, "/v1/dead/retry", .admin) { api, request, _ in try await api.retryDead(request) },
        APIRoute(.delete, "/v1/dead/{id}", .admin) { api, _, context in try JSONResponse.make(try await api.deleteDead(try jobID(context)))
        },
        APIRoute(.get, "/v1/workers", .read) { api, request, _ in try await api.listWorkers(request) },
        APIRoute(.get, "/v1/stats", .read) { api, request, _ in try await api.stats(request) },
        APIRoute(.get, "/v1/stats/throughput", .read) { api, request, _ in try api.throughput(request) },
        APIRoute(.get, "/v1/schedules", .read) { api, request, _ in try await api.listSchedules(request) },
        APIRoute(.post, "/v1/schedules", .admin) { api, request, _ in try await api.createSchedule(request) },
        APIRoute(.get, "/v1/schedules/{name}", .read) { api, _, context in
            try JSONResponse.make(try await api.scheduleInfo(try scheduleName(context)))
        },
        APIRoute(.put, "/v1/schedules/{name}", .admin) { api, request, context in
            try await api.putSchedule(request, name: try scheduleName(context, mustExist: false))
        },
        APIRoute(.delete, "/v1/schedules/{name}", .admin) { api, _, context in
            try JSONResponse.make(try await api.deleteSchedule(try scheduleName(context)))
        },
        APIRoute(.post, "/v1/schedules/{name}/pause", .admin) { api, _, context in
            try JSONResponse.make(try await api.pauseSchedule(try scheduleName(context), paused: true))
        },
        APIRoute(.post, "/v1/schedules/{name}/resume", .admin) { api, _, context in
            try JSONResponse.make(try await api.pauseSchedule(try scheduleName(context), paused: false))
        },
        APIRoute(.post, "/v1/schedules/{name}/run", .admin) { api, _, context in try await api.runScheduleNow(try scheduleName(context)) },
        APIRoute(.get, "/v1/events", .read) { api, request, _ in try api.eventsWithoutUpgrade(request) },
        APIRoute(.post, "/v1/events/token", .read) { api, _, context in try await api.issueEventToken(context) },
        APIRoute(.get, "/", nil) { api, _, _ in try api.dashboardFile("index.html") },
        APIRoute(.get, "/ui/{file}", nil) { api, _, context in try api.dashboardFile(context.parameters.get("file") ?? "") },
        APIRoute(.get, "/vendor/chart.js/{file}", nil) { api, _, context in try api.vendorFile(context.parameters.get("file") ?? "") },
        APIRoute(.get, "/healthz", nil) { _, _, _ in try JSONResponse.make(StatusBody(status: "ok")) },
        APIRoute(.get, "/readyz", nil) { api, _, _ in try await api.readiness() },
        APIRoute(.get, "/metrics", nil) { api, _, _ in metricsResponse(api.processMetricsText()) },
        APIRoute(.get, "/metrics/cluster", nil) { api, _, _ in metricsResponse(try await api.clusterMetricsText()) },
        APIRoute(.get, "/openapi.json", nil) { _, _, _ in APIDocument.response(json: true) },
        APIRoute(.get, "/openapi.yaml", nil) { _, _, _ in APIDocument.response(json: false) },
    ]

    /// The methods of the route `path` matches (literal segments win over `{…}` ones); empty for none.
    static func methods(path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var best: (literals: Int, path: String)?
        for route in routes {
            if let literals = route.match(segments), literals > (best?.literals ?? -1) { best = (literals, route.path) }
        }
        guard let best else { return [] }
        return routes.filter { $0.path == best.path }.map(\.method)
    }
}
