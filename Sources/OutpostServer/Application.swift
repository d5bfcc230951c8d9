import HTTPTypes
import Hummingbird
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
    /// Called once the server listens, with the bound host and port.
    public var onListening: (@Sendable (String, Int) -> Void)?

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
    APIRoute(method: .get, path: "/v1/incidents"),
    APIRoute(method: .get, path: "/v1/incidents/{id}"),
]

/// The router over any repositories (the embedded SQLite backend by default).
public func buildRouter(
    sync: any SyncRepository, incidents: any IncidentRepository, devices: any DeviceRepository,
    limits: ServerLimits = ServerLimits(), logger: Logger, clock: @escaping @Sendable () -> Int64 = currentTimeMs
) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: logger, routes: outpostRoutes))
    router.add(middleware: ErrorAndTimeMiddleware(routes: outpostRoutes, logger: logger))
    let auth = Authenticator(devices: devices)
    let syncController = SyncController(repository: sync, auth: auth, devices: devices, limits: limits, clock: clock)
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
    router.get("/v1/incidents") { request, context in try await incidentController.list(request, context: context) }
    router.get("/v1/incidents/:id") { request, context in try await incidentController.detail(request, context: context) }
    return router
}

/// Builds the application: opens (or creates) the database and wires the router over it.
public func buildApplication(
    configuration: ServerConfiguration, backend: SQLiteBackend? = nil, logger: Logger? = nil
) throws -> some ApplicationProtocol {
    let logger = logger ?? Logger(label: "outpost-server")
    let backend = try backend ?? SQLiteBackend(databasePath: configuration.databasePath, create: true)
    let router = buildRouter(
        sync: backend, incidents: backend, devices: backend, limits: configuration.limits, logger: logger)
    let onListening = configuration.onListening
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "outpost-server"),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            onListening?(configuration.host, port)
        },
        logger: logger)
}
