import Crypto
import Foundation
import NIOPosix
import OutpostStore

/// A signed-in analyst: the session's token and who holds it.
public struct WebSession: Hashable, Sendable {
    /// The token's row id.
    public var tokenID: Int64
    /// The reporter name the token was enrolled for.
    public var reporter: String
    /// The token's role (analyst or admin).
    public var role: Role
    /// The anti-forgery token every form of this session carries (derived from the session id).
    public var csrf: String
    /// What the token may read: the analyst's teams (issue 14), every team for an admin.
    public var scope: AccessScope = .teams([])
}

/// Server-side web sessions in the server database (`web_sessions`, schema 7): a random id in
/// the cookie, its SHA-256 stored, an expiry, and the token's revocation ending the session.
public final class WebSessions: @unchecked Sendable {
    // @unchecked Sendable: `db` is only used under `lock`.
    private let db: Database
    private let lock = NSLock()
    private let clock: @Sendable () -> Int64
    /// How long a session lasts after sign-in.
    public let lifetimeMs: Int64

    /// Opens the sessions of the server database at `path` (already created and migrated).
    public init(
        databasePath path: String, lifetimeMs: Int64 = 12 * 3_600_000, clock: @escaping @Sendable () -> Int64 = currentTimeMs
    ) throws {
        db = try Database(path: path, create: false)
        db.setBusyTimeout(milliseconds: 5_000)
        try db.execute("PRAGMA foreign_keys = ON")
        self.clock = clock
        self.lifetimeMs = lifetimeMs
    }

    private func locked<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            lock.lock()
            defer { lock.unlock() }
            return try body(db)
        }
    }

    /// Starts a session for `device`; returns the session id for the cookie (shown once).
    public func start(for device: Device) async throws -> String {
        let id = DeviceToken.generate()
        let now = clock()
        let expires = now + lifetimeMs
        try await locked { db in
            try db.transaction {
                try db.cached("DELETE FROM web_sessions WHERE expires_ms <= ?").bind(.integer(now)).run()
                try db.cached("INSERT INTO web_sessions (id_hash, token_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
                    .bind(.blob(DeviceToken.hash(id)), .integer(device.tokenID), .integer(now), .integer(expires)).run()
            }
        }
        return id
    }

    /// The live session with this id: not expired, not signed out, its token not revoked and
    /// still an analyst's or admin's; nil otherwise.
    public func session(id: String) async throws -> WebSession? {
        guard DeviceToken.isPlausible(id) else { return nil }
        let hash = DeviceToken.hash(id)
        let now = clock()
        let row = try await locked { db -> (Int64, String, Role, AccessScope)? in
            let found = try db.cached(
                """
                SELECT t.id, t.reporter, t.role, t.team FROM web_sessions s JOIN server_tokens t ON t.id = s.token_id
                WHERE s.id_hash = ? AND s.expires_ms > ? AND t.revoked_ms IS NULL
                """
            ).bind(.blob(hash), .integer(now)).first { ($0.int(0), $0.text(1) ?? "", $0.text(2) ?? "", $0.text(3)) }
            guard let found, let role = Role(rawValue: found.2), role.mayRead else { return nil }
            let scope = try SQLiteBackend.scope(db, token: found.0, reporter: found.1, role: role, team: found.3)
            return (found.0, found.1, role, scope)
        }
        guard let row else { return nil }
        return WebSession(
            tokenID: row.0, reporter: row.1, role: row.2, csrf: WebSessions.csrfToken(sessionID: id), scope: row.3)
    }

    /// Ends the session with this id (sign-out).
    public func end(id: String) async throws {
        guard DeviceToken.isPlausible(id) else { return }
        let hash = DeviceToken.hash(id)
        try await locked { db in try db.cached("DELETE FROM web_sessions WHERE id_hash = ?").bind(.blob(hash)).run() }
    }

    /// How many sessions are stored (tests and audits).
    public func storedCount() async throws -> Int {
        try await locked { db in Int(try db.cached("SELECT count(*) FROM web_sessions").first { $0.int(0) } ?? 0) }
    }

    /// The stored id hashes (tests: never the id itself).
    public func storedHashes() async throws -> [[UInt8]] {
        try await locked { db in
            var out: [[UInt8]] = []
            try db.cached("SELECT id_hash FROM web_sessions").forEach { out.append($0.bytes(0)) }
            return out
        }
    }

    /// The session's anti-forgery token: an HMAC of a fixed label under the session id, so it
    /// needs no storage and cannot be made without the cookie.
    static func csrfToken(sessionID: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("outpost-web-csrf-v1".utf8), using: SymmetricKey(data: Array(sessionID.utf8)))
        return DeviceToken.base64URL(Array(mac))
    }
}
