import Conveyor
import ConveyorHistory
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
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
    /// The live event feed (`GET /v1/events`): one stream reader per process, run as a service of
    /// the application.
    public let events: EventHub
    /// Batches concurrent `POST /v1/jobs` into few script calls.
    let enqueuer: EnqueueCoalescer
    let keys: APIKeyStore
    let logger: Logger

    public init(
        broker: Broker, mongo: MongoClient, configuration: ServerConfiguration, eventOptions: EventHubOptions = EventHubOptions(),
        logger: Logger = Logger(label: "conveyor.api")
    ) {
        self.broker = broker
        self.mongo = mongo
        self.history = HistoryQueries(mongo: mongo)
        self.configuration = configuration
        self.limiter = RateLimiter(pool: broker.pool, namespace: broker.configuration.namespace)
        self.metrics = APIMetrics()
        self.enqueuer = EnqueueCoalescer(broker: broker)
        self.keys = APIKeyStore(configuration.keys)
        self.logger = logger
        self.events = EventHub(broker: broker, options: eventOptions, logger: logger) {
            let stats = try await broker.stats()
            let queues = QueueBody.all(stats: stats, counts: try await broker.queueCounts())
            return (stats, queues, try await broker.workers().count)
        }
    }

    /// The router: every route of `routes`, each behind the access check of its role, and the
    /// middleware that maps errors and counts requests.
    public func makeRouter() -> Router<ConveyorRequestContext> {
        let router = Router(context: ConveyorRequestContext.self)
        router.add(middleware: ObservingMiddleware(metrics: metrics, logger: logger))
        let access = AccessCheck(api: self)
        for route in Self.routes {
            router.on(RouterPath(route.path), method: route.method) { request, context in
                try await access.handle(request, context: context, role: route.role) { request, context in
                    try await route.handler(self, request, context)
                }
            }
        }
        return router
    }

    /// The problem any error answers in every front end (see `ObservingMiddleware.problem`); logs
    /// server-side failures with `operation`.
    public func problem(for error: any Error, operation: String) -> APIProblem {
        ObservingMiddleware.problem(for: error, path: operation, logger: logger)
    }

    /// Enqueues one validated job through the coalescer that `POST /v1/jobs` uses.
    public func enqueue(_ job: EnqueueRequest) async throws -> EnqueueBody {
        let result = try await enqueuer.enqueue(job)
        return EnqueueBody(id: result.id, state: result.state, duplicate: result.duplicate)
    }

    /// A Hummingbird application serving the API; `onServerRunning` gets the bound port.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let headerTimeout = TimeAmount(configuration.headerTimeout)
        let idleTimeout = TimeAmount(configuration.idleTimeout)
        let logger = logger
        let webSocketResponder = makeWebSocketRouter().buildResponder()
        // HTTP with the WebSocket upgrade of /v1/events; FirstHeadDeadlineChannel covers the time
        // before the first request head, when the upgrade channel has not installed the deadlines yet.
        // UpgradeRefusalChannel and RefusedUpgradeWriter answer a refused upgrade with its reason.
        let server = HTTPServerBuilder { responder in
            UpgradeRefusalChannel(
                inner: FirstHeadDeadlineChannel(
                    inner: HTTP1WebSocketUpgradeChannel(
                        responder: responder, webSocketResponder: webSocketResponder,
                        configuration: .init(
                            http1: .init(
                                additionalChannelHandlers: [
                                    HeadDeadlineHandler(headerTimeout: headerTimeout, logger: logger), RefusedUpgradeWriter(),
                                ],
                                idleTimeout: idleTimeout))),
                    headerTimeout: headerTimeout, idleTimeout: idleTimeout, logger: logger))
        }
        return Application(
            router: makeRouter(),
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "conveyor",
                availableConnectionsDelegate: ConnectionCap(maxConnections: configuration.maxConnections, logger: logger)),
            services: [events],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
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
            let allowed = ConveyorAPI.methods(path: request.uri.path).map(\.rawValue)
            if !allowed.isEmpty && !allowed.contains(request.method.rawValue) {
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
        problem(for: error, path: request.uri.path, logger: logger).makeResponse()
    }

    /// The problem an error answers: bad input 400, Redis or MongoDB unreachable 503, a MongoDB error
    /// that is no outage (a refused or unencodable query) 500 with its message, anything else 500.
    static func problem(for error: any Error, path: String, logger: Logger) -> APIProblem {
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
            logger.error("Redis failed", metadata: ["error": .string(error.message), "path": .string(path)])
            problem = APIProblem(.serviceUnavailable, "Redis is unavailable; try again")
        case let error as HistoryError where error.isUnavailable:
            logger.error("MongoDB unavailable", metadata: ["error": .string(error.message), "path": .string(path)])
            problem = APIProblem(.serviceUnavailable, "the job history (MongoDB) is unavailable; try again")
        case let error as HistoryError:
            // Raised before or apart from reaching the server (a query that cannot be encoded, a
            // refused command): the server's fault or the query's, not an outage.
            logger.error("MongoDB query failed", metadata: ["error": .string(error.message), "path": .string(path)])
            problem = APIProblem(.internalServerError, "the job history query failed: \(error.message)")
        case is HTTPParserError, is ChannelError, is CancellationError:
            // The client went away mid-request (closed or reset while sending its body) or sent
            // something that is not HTTP: its business, not a server failure.
            logger.debug(
                "client disconnected or sent malformed HTTP", metadata: ["error": .string("\(error)"), "path": .string(path)])
            problem = APIProblem(.badRequest, "the request ended before its body did")
        case let error as IOError where [ECONNRESET, EPIPE, ETIMEDOUT].contains(error.errnoCode):
            logger.debug("client disconnected", metadata: ["error": .string("\(error)"), "path": .string(path)])
            problem = APIProblem(.badRequest, "the connection failed mid-request")
        default:
            logger.error("request failed", metadata: ["error": .string("\(error)"), "path": .string(path)])
            problem = APIProblem(.internalServerError, "the server failed to handle this request")
        }
        return problem
    }
}

/// In front of every route that needs a role (from the route table): `ConveyorAPI.authorize`, then the
/// handler. Adds the `RateLimit-*` headers to every rate-limited response, errors included.
struct AccessCheck: Sendable {
    typealias Context = ConveyorRequestContext
    let api: ConveyorAPI
    /// Routes that also accept `?token=` from `POST /v1/events/token` instead of a key.
    static let tokenPaths: Set<String> = ["/v1/events"]

    func handle(
        _ request: Request, context: Context, role: APIRole?, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let role else { return try await next(request, context) }
        var context = context
        // Browsers cannot set headers on a WebSocket: a one-time token from POST /v1/events/token.
        let token = Self.tokenPaths.contains(request.uri.path) ? request.uri.queryParameters["token"].map(String.init) : nil
        let grant = try await api.authorize(
            authorization: request.headers[.authorization], token: token, address: context.remoteAddress?.ipAddress ?? "unknown",
            role: role)
        context.apiKey = grant.key
        var response: Response
        do { response = try await next(request, context) } catch {
            response = ObservingMiddleware.response(for: error, request: request, context: context, logger: api.logger)
        }
        response.headers.append(contentsOf: grant.rateHeaders)
        return response
    }
}

/// Who a request comes from, once `ConveyorAPI.authorize` let it through.
public struct AccessGrant: Sendable {
    /// The key that authenticated it (nil without auth).
    public var key: APIKey?
    /// `RateLimit-*` headers to send with the answer (empty without a rate limit).
    public var rateHeaders: HTTPFields
}

extension ConveyorAPI {
    /// The access check every front end shares (REST, WebSocket, gRPC): authenticates the API key in
    /// `authorization` (`Bearer KEY`), spends one request of the caller's rate budget (its key's, or
    /// its address's without auth or with no valid key, so guessing keys is limited too), and checks
    /// that the key's role is at least `role`. Throws `APIProblem` 401, 403 or 429 (with headers).
    /// `token` is a one-time token from `POST /v1/events/token`, accepted where a browser cannot send
    /// headers (the WebSocket feed).
    public func authorize(authorization: String?, token: String? = nil, address: String, role: APIRole) async throws -> AccessGrant {
        var client: String
        var limit = configuration.rateLimit
        var found: APIKey?
        if configuration.authRequired {
            var candidate: APIKey?
            if let header = authorization, header.hasPrefix("Bearer ") {
                candidate = keys.find(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
            } else if let token {
                candidate = try await redeemEventToken(token)
            }
            guard let key = candidate else {
                var headers: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"conveyor\""]
                if let limit { headers.append(contentsOf: try await rateLimit(client: "unauthenticated:" + address, limit: limit)) }
                throw APIProblem(
                    .unauthorized,
                    token != nil
                        ? "send a valid API key as 'Authorization: Bearer KEY', or a token from POST /v1/events/token as ?token= (single use, valid 60 s)"
                        : "send a valid API key as 'Authorization: Bearer KEY'", headers: headers)
            }
            found = key
            client = "key:" + key.digestHex
            if let own = key.rateLimit { limit = own }
        } else {
            client = "ip:" + address
        }
        var rateHeaders: HTTPFields = [:]
        if let limit { rateHeaders = try await rateLimit(client: client, limit: limit) }
        if let key = found, key.role < role {
            var problem = APIProblem(.forbidden, "this API key has the role '\(key.role.rawValue)'; this request needs '\(role.rawValue)'")
            problem.headers = rateHeaders
            throw problem
        }
        return AccessGrant(key: found, rateHeaders: rateHeaders)
    }

    /// Spends one request of `client`'s budget: the RateLimit headers, or a 429 carrying them and
    /// Retry-After when the budget is spent.
    func rateLimit(client: String, limit: RateLimit) async throws -> HTTPFields {
        let decision = try await limiter.check(client: client, limit: limit)
        var headers: HTTPFields = [:]
        headers[.rateLimitLimit] = String(limit.burst)
        headers[.rateLimitRemaining] = String(decision.remaining)
        headers[.rateLimitReset] = String((decision.resetMicroseconds + 999_999) / 1_000_000)
        headers[.rateLimitPolicy] = "\(limit.burst);w=\(max(1, limit.periodMilliseconds * limit.burst / limit.count / 1_000))"
        guard decision.admitted else {
            metrics.rateLimited.increment()
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
