import Crypto
import OutpostCore

/// What a device token may do.
public enum Role: String, CaseIterable, Hashable, Sendable {
    /// Pushes changes and pulls those of its team it may read (`POST /v1/sync`).
    case reporter
    /// Reads the incidents of its teams (`GET /v1/incidents…`) and moves them between them.
    case analyst
    /// Everything.
    case admin

    /// Whether the role may sync.
    public var maySync: Bool { self == .reporter || self == .admin }
    /// Whether the role may read the analyst routes.
    public var mayRead: Bool { self == .analyst || self == .admin }
}

/// An authenticated token: who holds it and which replica it is bound to.
public struct Device: Hashable, Sendable {
    /// The token's row id (never the token itself).
    public var tokenID: Int64
    /// The reporter name it was enrolled for.
    public var reporter: String
    /// Its role.
    public var role: Role
    /// The replica of its first sync, once bound.
    public var replica: ReplicaID?
    /// What it may read: its team's records for a reporter, its teams' for an analyst.
    public var scope: AccessScope

    /// Makes a device (reading nothing unless `scope` says otherwise).
    public init(tokenID: Int64, reporter: String, role: Role, replica: ReplicaID?, scope: AccessScope = .teams([])) {
        self.tokenID = tokenID
        self.reporter = reporter
        self.role = role
        self.replica = replica
        self.scope = scope
    }
}

/// The outcome of binding a token to a replica.
public enum BindResult: Hashable, Sendable {
    /// The token is bound to this replica (now or before).
    case bound
    /// The token is bound to another replica.
    case boundToOther(ReplicaID)
    /// The replica belongs to another reporter (or to the server itself).
    case replicaTaken
}

/// Token making, hashing and constant-time comparison.
public enum DeviceToken {
    /// A new token: 32 random bytes, URL-safe base64 without padding (43 characters).
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return base64URL(bytes)
    }

    /// The token's SHA-256 hash (what is stored).
    public static func hash(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// The indexed prefix of a hash.
    static func lookup(_ hash: [UInt8]) -> [UInt8] { Array(hash.prefix(8)) }

    /// Compares two byte strings in time that depends only on their lengths.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// Whether text looks like a token (bounded length, URL-safe alphabet), before any lookup.
    static func isPlausible(_ token: String) -> Bool {
        let u = token.utf8
        guard (16...256).contains(u.count) else { return false }
        return u.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Device tokens: enrolment, revocation, authentication and replica binding.
public protocol DeviceRepository: Sendable {
    /// The device holding `token`, or nil when unknown or revoked.
    func authenticate(token: String) async throws -> Device?
    /// Binds the device's token to `replica` on its first sync and enrolls `key` for it in the
    /// roster; checks the binding afterwards. `key`, already proved (the replica is its hash and
    /// the request carries its binding signature), may also move a bound token to a new replica
    /// of the same reporter (a device restored from an older copy continues under a new one).
    func bind(_ device: Device, to replica: ReplicaID, key: [UInt8]?) async throws -> BindResult
    /// Makes a new token for `reporter`; returns it (shown once, stored hashed).
    func enroll(reporter: String, role: Role) throws -> String
    /// Ends every token of `reporter`; returns how many were active.
    func revoke(reporter: String) throws -> Int
}
