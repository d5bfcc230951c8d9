import Hummingbird

/// What the analysts' web workspace needs beyond the API's repositories: its embedded files,
/// its sessions, over the server database at one path.
public struct WebWorkspace: Sendable {
    /// Templates, catalogues and static files.
    public let assets: WebAssets
    /// Signed-in analysts.
    public let sessions: WebSessions
    /// Whether cookies get `Secure` (the server speaks TLS).
    public let secureCookies: Bool

    /// Opens the workspace over the (created, migrated) server database at `databasePath`.
    public init(databasePath: String, secureCookies: Bool, sessionClock: @escaping @Sendable () -> Int64 = currentTimeMs) throws {
        assets = try WebAssets()
        sessions = try WebSessions(databasePath: databasePath, clock: sessionClock)
        self.secureCookies = secureCookies
    }

    func register(
        on router: Router<OutpostRequestContext>, incidents: any IncidentRepository, devices: any DeviceRepository,
        auth: Authenticator
    ) {
        WebController(
            assets: assets, sessions: sessions, incidents: incidents, devices: devices,
            auth: auth, secureCookies: secureCookies
        ).register(on: router)
    }
}
