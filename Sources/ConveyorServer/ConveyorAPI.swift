import Conveyor
import ConveyorHistory
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import RedisClient

/// The REST API of `conveyor serve`: routes, auth, rate limiting and error mapping over a `Broker`
/// (Redis) and `HistoryQueries` (MongoDB). Stateless: any number of replicas share Redis.
public struct ConveyorAPI: Sendable {
    public let broker: Broker
    public let mongo: MongoClient
    public let history: HistoryQueries
    public let configuration: ServerConfiguration
    public let limiter: RateLimiter
    public let metrics: APIMetrics
    /// Batches concurrent `POST /v1/jobs` into few script calls.
    let enqueuer: EnqueueCoalescer
    let keys: APIKeyStore
    let logger: Logger

    public init(broker: Broker, mongo: MongoClient, configuration: ServerConfiguration, logger: Logger = Logger(label: "conveyor.api")) {
        self.broker = broker
        self.mongo = mongo
        self.history = HistoryQueries(mongo: mongo)
        self.configuration = configuration
        self.limiter = RateLimiter(pool: broker.pool, namespace: broker.configuration.namespace)
        self.metrics = APIMetrics()
        self.enqueuer = EnqueueCoalescer(broker: broker)
        self.keys = APIKeyStore(configuration.keys)
        self.logger = logger
    }

    /// The router with every route and the middleware in front of them.
    public func makeRouter() -> Router<ConveyorRequestContext> {
        let router = Router(context: ConveyorRequestContext.self)
        router.add(middleware: ObservingMiddleware(metrics: metrics, logger: logger))
        router.add(middleware: AccessMiddleware(api: self))
        addJobRoutes(to: router)
        addAdminRoutes(to: router)
        addScheduleRoutes(to: router)
        addSystemRoutes(to: router)
        return router
    }

    /// A Hummingbird application serving the API; `onServerRunning` gets the bound port.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let headerTimeout = TimeAmount(configuration.headerTimeout)
        let logger = logger
        return Application(
            router: makeRouter(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [HeadDeadlineHandler(headerTimeout: headerTimeout, logger: logger)],
                    idleTimeout: TimeAmount(configuration.idleTimeout))),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "conveyor",
                availableConnectionsDelegate: ConnectionCap(maxConnections: configuration.maxConnections, logger: logger)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Every route and its methods: what `/openapi.json` describes, and what a 405 lists in `Allow`.
    public static let routes: [(path: String, methods: [String])] = [
        ("/v1/jobs", ["GET", "POST"]), ("/v1/jobs/batch", ["POST"]), ("/v1/jobs/{id}", ["GET"]), ("/v1/jobs/{id}/cancel", ["POST"]),
        ("/v1/jobs/{id}/retry", ["POST"]), ("/v1/queues", ["GET"]), ("/v1/queues/{name}/pause", ["POST"]),
        ("/v1/queues/{name}/resume", ["POST"]), ("/v1/dead", ["GET"]), ("/v1/dead/retry", ["POST"]), ("/v1/dead/{id}", ["DELETE"]),
        ("/v1/workers", ["GET"]), ("/v1/stats", ["GET"]), ("/v1/schedules", ["GET", "POST"]),
        ("/v1/schedules/{name}", ["GET", "PUT", "DELETE"]), ("/v1/schedules/{name}/pause", ["POST"]),
        ("/v1/schedules/{name}/resume", ["POST"]), ("/v1/schedules/{name}/run", ["POST"]), ("/healthz", ["GET"]), ("/readyz", ["GET"]),
        ("/metrics", ["GET"]), ("/openapi.json", ["GET"]),
    ]

    /// The methods of the route `path` matches (literal segments win over `{…}` ones); empty for none.
    static func allowedMethods(path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var best: (literals: Int, methods: [String])?
        for route in routes {
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: false)
            guard pattern.count == segments.count else { continue }
            var literals = 0
            var matches = true
            for (expected, actual) in zip(pattern, segments) {
                if expected.hasPrefix("{") {
                    if actual.isEmpty { matches = false }
                } else if expected == actual {
                    literals += 1
                } else {
                    matches = false
                }
                if !matches { break }
            }
            if matches && literals > (best?.literals ?? -1) { best = (literals, route.methods) }
        }
        return best?.methods ?? []
    }

    /// The role a request needs: reads need `read`, enqueues `submit`, every other change `admin`;
    /// nil for the public routes.
    static func requiredRole(method: HTTPRequest.Method, path: String) -> APIRole? {
        guard path == "/v1" || path.hasPrefix("/v1/") else { return nil }
        if method == .get || method == .head { return .read }
        if method == .post && (path == "/v1/jobs" || path == "/v1/jobs/batch") { return .submit }
        return .admin
    }
}

// MARK: middleware

/// Outermost: turns every error into a problem response (never a crash, never a bare 500 with
/// internals) and counts requests by route and status.
struct ObservingMiddleware: RouterMiddleware {
    typealias Context = ConveyorRequestContext
    let metrics: APIMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do { response = try await next(request, context) } catch {
            response = Self.response(for: error, request: request, context: context, logger: logger)
        }
        var route = context.coreContext.endpointPath.value ?? "unmatched"
        if route == "NotFound" { route = "unmatched" }
        if response.status == .notFound && route == "unmatched" {
            // A known path with a method it does not have: 405 with the ones it has.
            let allowed = ConveyorAPI.allowedMethods(path: request.uri.path)
            if !allowed.isEmpty {
                var problem = APIProblem(
                    .methodNotAllowed, "\(request.method.rawValue) is not allowed here; use \(allowed.joined(separator: ", "))")
                problem.headers[.allow] = allowed.joined(separator: ", ")
                response = Self.response(for: problem, request: request, context: context, logger: logger)
            }
        }
        metrics.recordRequest(
            method: request.method.rawValue, route: route, status: response.status.code, duration: ContinuousClock.now - start)
        return response
    }

    static func response(for error: any Error, request: Request, context: Context, logger: Logger) -> Response {
        let problem: APIProblem
        switch error {
        case let error as APIProblem:
            problem = error
        case let error as ConveyorError where error.code == .invalidArgument:
            problem = .invalid(nil, error.message)
        case let error as HTTPError:
            problem = APIProblem(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        case let error as any HTTPResponseError:
            problem = APIProblem(error.status, error.status.reasonPhrase)
        case let error as RedisError:
            logger.error("Redis failed", metadata: ["error": .string(error.message), "path": .string(request.uri.path)])
            problem = APIProblem(.serviceUnavailable, "Redis is unavailable; try again")
        case let error as HistoryError:
            logger.error("MongoDB failed", metadata: ["error": .string(error.message), "path": .string(request.uri.path)])
            problem = APIProblem(.serviceUnavailable, "the job history (MongoDB) is unavailable; try again")
        case is HTTPParserError, is ChannelError, is CancellationError:
            // The client went away mid-request (closed or reset while sending its body) or sent
            // something that is not HTTP: its business, not a server failure.
            logger.debug(
                "client disconnected or sent malformed HTTP", metadata: ["error": .string("\(error)"), "path": .string(request.uri.path)])
            problem = APIProblem(.badRequest, "the request ended before its body did")
        case let error as IOError where [ECONNRESET, EPIPE, ETIMEDOUT].contains(error.errnoCode):
            logger.debug("client disconnected", metadata: ["error": .string("\(error)"), "path": .string(request.uri.path)])
            problem = APIProblem(.badRequest, "the connection failed mid-request")
        default:
            logger.error("request failed", metadata: ["error": .string("\(error)"), "path": .string(request.uri.path)])
            problem = APIProblem(.internalServerError, "the server failed to handle this request")
        }
        var response = JSONResponse.make(problem.jsonObject, status: problem.status, contentType: "application/problem+json")
        response.headers.append(contentsOf: problem.headers)
        return response
    }
}

/// Authenticates the API key, spends one request of the caller's rate budget, and checks the role.
/// Adds the `RateLimit-*` headers to every rate-limited response, errors included.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ConveyorRequestContext
    let api: ConveyorAPI

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let role = ConveyorAPI.requiredRole(method: request.method, path: request.uri.path) else {
            return try await next(request, context)
        }
        var context = context
        var client: String
        var limit = api.configuration.rateLimit
        if api.configuration.authRequired {
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                let key = api.keys.find(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
            else {
                // Requests without a valid key spend the budget of their client address, so guessing
                // keys is rate limited like everything else.
                var headers: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"conveyor\""]
                if let limit {
                    headers.append(contentsOf: try await rateLimit(client: "unauthenticated:" + address(context), limit: limit))
                }
                throw APIProblem(.unauthorized, "send a valid API key as 'Authorization: Bearer KEY'", headers: headers)
            }
            context.apiKey = key
            client = "key:" + key.secret
            if let own = key.rateLimit { limit = own }
        } else {
            client = "ip:" + address(context)
        }
        var rateHeaders: HTTPFields = [:]
        if let limit { rateHeaders = try await rateLimit(client: client, limit: limit) }
        if let key = context.apiKey, key.role < role {
            var problem = APIProblem(.forbidden, "this API key has the role '\(key.role.rawValue)'; this request needs '\(role.rawValue)'")
            problem.headers = rateHeaders
            throw problem
        }
        var response: Response
        do { response = try await next(request, context) } catch {
            response = ObservingMiddleware.response(for: error, request: request, context: context, logger: api.logger)
        }
        response.headers.append(contentsOf: rateHeaders)
        return response
    }

    func address(_ context: Context) -> String { context.remoteAddress?.ipAddress ?? "unknown" }

    /// Spends one request of `client`'s budget: the RateLimit headers, or a 429 carrying them and
    /// Retry-After when the budget is spent.
    func rateLimit(client: String, limit: RateLimit) async throws -> HTTPFields {
        let decision = try await api.limiter.check(client: client, limit: limit)
        var headers: HTTPFields = [:]
        headers[.rateLimitLimit] = String(limit.burst)
        headers[.rateLimitRemaining] = String(decision.remaining)
        headers[.rateLimitReset] = String((decision.resetMicroseconds + 999_999) / 1_000_000)
        headers[.rateLimitPolicy] = "\(limit.burst);w=\(max(1, limit.periodMilliseconds * limit.burst / limit.count / 1_000))"
        guard decision.admitted else {
            api.metrics.rateLimited.increment()
            headers[.retryAfter] = String(max(1, (decision.retryAfterMicroseconds + 999_999) / 1_000_000))
            throw APIProblem(
                .tooManyRequests, "rate limit of \(limit) exceeded; retry in \(decision.retryAfterMicroseconds / 1_000) ms",
                headers: headers)
        }
        return headers
    }
}

extension HTTPField.Name {
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
