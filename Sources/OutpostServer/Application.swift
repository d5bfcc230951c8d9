import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import OutpostCore

/// Hard limits on what one request may ask of the server.
public struct ServerLimits: Hashable, Sendable {
    /// Largest request body on the wire (compressed).
    public var maxRequestBytes = 16 << 20
    /// Largest request body after gzip decompression.
    public var maxDecodedBytes = 64 << 20
    /// Most changes pushed per batch.
    public var maxChanges = 5000
    /// Most changes pulled per batch.
    public var maxPullLimit = 5000
    /// About the most bytes pulled per batch.
    public var maxPullBytes = 8 << 20
    /// Incidents per page when `limit` is not given.
    public var defaultPageSize = 100
    /// Largest `limit` for incident pages.
    public var maxPageSize = 1000
    /// Longest wait for a whole request body (408 past it).
    public var bodyTimeout: Duration = .seconds(30)
    /// A connection that sends nothing for this long (or twice `bodyTimeout`, if longer) is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// Failed authentications one client address may make in a row before 429.
    public var authFailureBurst = 20
    /// Failed authentications per minute an address is allowed back after its burst.
    public var authFailuresPerMinute = 10.0
    /// Requests one token may make in a row before 429.
    public var tokenBurst = 300
    /// Requests per second a token is allowed back after its burst.
    public var tokenRequestsPerSecond = 50.0

    /// The defaults.
    public init() {}
}

/// How to run the server.
public struct ServerConfiguration: Sendable {
    /// The SQLite database file (created when missing).
    public var databasePath = "./outpost-server.db"
    /// Address to bind.
    public var host = "127.0.0.1"
    /// Port to bind (0: any free port).
    public var port = 8080
    /// Request limits.
    public var limits = ServerLimits()
    /// The certificate and key to serve HTTPS with; nil serves plain HTTP.
    public var tls: ServerTLS?
    /// Called once the server listens, with the bound host and port.
    public var onListening: (@Sendable (String, Int) -> Void)?
    /// The clock the rate limits refill by, ms (tests move it by hand).
    public var rateLimitClock: @Sendable () -> Int64 = currentTimeMs
    /// Whether the analysts' query indexes are made and kept (the default; `serve
    /// --no-query-indexes` drops them).
    public var queryIndexes = true

    /// Makes a configuration.
    public init(databasePath: String = "./outpost-server.db", host: String = "127.0.0.1", port: Int = 8080) {
        self.databasePath = databasePath
        self.host = host
        self.port = port
    }
}

/// The API's routes, exactly as `Schema/openapi.yaml` lists them.
public let outpostRoutes: [APIRoute] = [
    APIRoute(method: .get, path: "/healthz"),
    APIRoute(method: .post, path: "/v1/sync"),
    APIRoute(method: .post, path: "/v1/parcels"),
    APIRoute(method: .get, path: "/v1/incidents"),
    APIRoute(method: .get, path: "/v1/incidents/{id}"),
    APIRoute(method: .post, path: "/v1/incidents/{id}/move"),
    APIRoute(method: .get, path: "/v1/roster"),
]

/// The router over any repositories (the embedded SQLite backend by default).
public func buildRouter(
    sync: any SyncRepository, incidents: any IncidentRepository, devices: any DeviceRepository,
    parcels: any ParcelRepository, parcelKey: ParcelKeyVouch?,
    limits: ServerLimits = ServerLimits(), logger: Logger, clock: @escaping @Sendable () -> Int64 = currentTimeMs,
    rateLimitClock: @escaping @Sendable () -> Int64 = currentTimeMs, web: WebWorkspace? = nil
) -> Router<OutpostRequestContext> {
    let router = Router(context: OutpostRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: logger, routes: outpostRoutes + WebController.routes))
    router.add(middleware: ErrorAndTimeMiddleware(routes: outpostRoutes, logger: logger))
    let auth = Authenticator(
        devices: devices,
        failuresByAddress: RateLimiter(
            burst: limits.authFailureBurst, perSecond: limits.authFailuresPerMinute / 60, clock: rateLimitClock),
        requestsByToken: RateLimiter(burst: limits.tokenBurst, perSecond: limits.tokenRequestsPerSecond, clock: rateLimitClock))
    let syncController = SyncController(
        repository: sync, auth: auth, devices: devices, limits: limits, clock: clock, parcelKey: parcelKey)
    let parcelController = ParcelController(repository: parcels, auth: auth, limits: limits)
    let incidentController = IncidentController(repository: incidents, auth: auth, limits: limits)

    router.get("/healthz") { request, _ -> Response in
        do {
            try await incidents.checkHealth()
        } catch {
            throw APIError(.serviceUnavailable, "unavailable", "the store is not usable")
        }
        return HTTPSupport.json(Array(#"{"status":"ok"}"#.utf8), request: request)
    }
    router.post("/v1/sync") { request, context in try await syncController.sync(request, context: context) }
    router.post("/v1/parcels") { request, context in try await parcelController.post(request, context: context) }
    router.get("/v1/incidents") { request, context in try await incidentController.list(request, context: context) }
    router.get("/v1/incidents/:id") { request, context in try await incidentController.detail(request, context: context) }
    router.post("/v1/incidents/:id/move") { request, context in try await incidentController.move(request, context: context) }
    router.get("/v1/roster") { request, context in try await incidentController.roster(request, context: context) }
    web?.register(on: router, incidents: incidents, devices: devices, auth: auth)
    return router
}

/// Builds the application: opens (or creates) the database and wires the router over it.
public func buildApplication(
    configuration: ServerConfiguration, backend: SQLiteBackend? = nil, logger: Logger? = nil
) throws -> some ApplicationProtocol {
    let logger = logger ?? Logger(label: "outpost-server")
    let backend =
        try backend
        ?? SQLiteBackend(databasePath: configuration.databasePath, create: true, queryIndexes: configuration.queryIndexes)
    let router = buildRouter(
        sync: backend, incidents: backend, devices: backend, parcels: backend, parcelKey: try backend.vouchedParcelKey(),
        limits: configuration.limits, logger: logger, rateLimitClock: configuration.rateLimitClock,
        web: try WebWorkspace(databasePath: configuration.databasePath, secureCookies: configuration.tls != nil))
    let onListening = configuration.onListening
    let idle = max(configuration.limits.idleTimeout, configuration.limits.bodyTimeout * 2).components
    let http = HTTPServerBuilder.http1(
        configuration: .init(idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)))
    let server = try configuration.tls.map { try HTTPServerBuilder.tls(http, tlsConfiguration: $0.configuration) } ?? http
    return Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "outpost-server"),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            onListening?(configuration.host, port)
            // The query indexes into memory, off the event loop, while nobody asks yet.
            Task { try? await backend.warmQueryMirror() }
        },
        logger: logger)
}
