import OutpostCore

/// One entry of the server's roster: a replica, its public key, its reporter and status, signed
/// by the server's roster key (`trust.md`, "Device keys and the roster").
///
/// Wire form: `{"replica": hex, "key": b64u, "reporter": name, "team": name, "status":
/// "active"|"revoked", "version": n, "sig": b64u}` (`team` absent in an entry signed before teams:
/// its replica is in the team "default").
public struct RosterEntry: Hashable, Sendable {
    /// Whether the replica may still author changes.
    public enum Status: String, Hashable, Sendable, CaseIterable {
        case active, revoked
    }

    /// The replica.
    public var replica: ReplicaID
    /// Its 32-byte Ed25519 public key.
    public var key: [UInt8]
    /// The reporter it is enrolled for.
    public var reporter: String
    /// The team its reporter belongs to; nil in an entry signed before teams (`effectiveTeam`).
    public var team: String?
    /// Active or revoked.
    public var status: Status
    /// Raised by the server on every change of the entry; a replica keeps the highest it verified.
    public var version: UInt64
    /// The server roster key's signature over `signedBytes` (nil for an entry trusted locally).
    public var sig: [UInt8]?

    /// Makes an entry.
    public init(
        replica: ReplicaID, key: [UInt8], reporter: String, team: String? = nil, status: Status, version: UInt64,
        sig: [UInt8]? = nil
    ) {
        self.replica = replica
        self.key = key
        self.reporter = reporter
        self.team = team
        self.status = status
        self.version = version
        self.sig = sig
    }

    /// The team the replica is in: `team`, or "default" for an entry signed before teams.
    public var effectiveTeam: String { team ?? TeamName.defaultTeam }

    /// The prefix of the bytes an entry without a team (signed before teams) is signed over.
    public static let signedPrefix = Array("OUTPOST-ROSTER-1\n".utf8)
    /// The prefix of the bytes an entry with a team is signed over.
    public static let signedPrefixWithTeam = Array("OUTPOST-ROSTER-2\n".utf8)

    /// What the server's roster key signs: the prefix (`OUTPOST-ROSTER-2` with a team, else
    /// `-1`), u8 length and replica bytes, the 32-byte key, u16 length and the reporter's UTF-8,
    /// u8 status (0 active, 1 revoked), u64 version (big-endian), then with a team u16 length and
    /// the team's UTF-8. A team can therefore be neither added to, taken from nor changed in a
    /// signed entry.
    public var signedBytes: [UInt8] {
        var out = team == nil ? RosterEntry.signedPrefix : RosterEntry.signedPrefixWithTeam
        out.append(UInt8(truncatingIfNeeded: replica.bytes.count))
        out.append(contentsOf: replica.bytes)
        out.append(contentsOf: key)
        let name = Array(reporter.utf8)
        out.append(UInt8(truncatingIfNeeded: name.count >> 8))
        out.append(UInt8(truncatingIfNeeded: name.count))
        out.append(contentsOf: name)
        out.append(status == .active ? 0 : 1)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: version >> UInt64(shift))) }
        if let team {
            let name = Array(team.utf8)
            out.append(UInt8(truncatingIfNeeded: name.count >> 8))
            out.append(UInt8(truncatingIfNeeded: name.count))
            out.append(contentsOf: name)
        }
        return out
    }

    /// The entry signed by `rosterKey` (the server's).
    public func signed(by rosterKey: DeviceKey) -> RosterEntry {
        var entry = self
        entry.sig = rosterKey.signature(for: signedBytes)
        return entry
    }

    /// Whether the entry carries a valid signature of the roster key `rosterPublicKey`, and its
    /// replica is the hash of its key (`production`) as every enrolled device's is.
    public func isValid(rosterPublicKey: [UInt8], production: Bool = true) -> Bool {
        guard let sig, key.count == 32 else { return false }
        if production && ReplicaID.derived(fromPublicKey: key) != replica { return false }
        return SignatureCheck.isValid(sig, of: signedBytes, publicKey: rosterPublicKey)
    }

    /// `{replica, key, reporter, team?, status, version, sig?}`.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "replica": .string(replica.hex), "key": .string(Base64URL.encode(key)), "reporter": .string(reporter),
            "status": .string(status.rawValue), "version": .int(Int64(clamping: version)),
        ]
        if let sig { members["sig"] = .string(Base64URL.encode(sig)) }
        if let team { members["team"] = .string(team) }
        return .object(members)
    }

    /// Reads an entry, checking every key; errors name the problem.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("a roster entry must be a JSON object") }
        for k in o.keys where !["replica", "key", "reporter", "team", "status", "version", "sig"].contains(k) {
            throw ChangeFormatError("unknown key \"\(k)\" in roster entry")
        }
        guard case .string(let hex)? = o["replica"], let replica = ReplicaID(hex: hex) else {
            throw ChangeFormatError("roster entry: replica must be a replica id in lowercase hex")
        }
        guard case .string(let keyText)? = o["key"], let key = Base64URL.decode(keyText), key.count == 32 else {
            throw ChangeFormatError("roster entry \(replica.hex): key must be a 32-byte Ed25519 public key in unpadded base64url")
        }
        guard case .string(let reporter)? = o["reporter"], Change.isValidReporterName(reporter) else {
            throw ChangeFormatError("roster entry \(replica.hex): reporter \(Change.reporterNameRule)")
        }
        var team: String?
        switch o["team"] {
        case .string(let name)? where TeamName.isValid(name): team = name
        case nil, .null?: break
        default: throw ChangeFormatError("roster entry \(replica.hex): team: \(TeamName.rule)")
        }
        guard case .string(let statusText)? = o["status"], let status = Status(rawValue: statusText) else {
            throw ChangeFormatError("roster entry \(replica.hex): status must be \"active\" or \"revoked\"")
        }
        var version: UInt64 = 0
        switch o["version"] {
        case .int(let n)? where n >= 0: version = UInt64(n)
        case nil: break
        default: throw ChangeFormatError("roster entry \(replica.hex): version must be a whole number ≥ 0")
        }
        var sig: [UInt8]?
        switch o["sig"] {
        case .string(let text)?:
            guard let bytes = Change.signature(fromText: text) else {
                throw ChangeFormatError("roster entry \(replica.hex): \(Change.sigRule)")
            }
            sig = bytes
        case nil, .null?: break
        default: throw ChangeFormatError("roster entry \(replica.hex): \(Change.sigRule)")
        }
        self.init(replica: replica, key: key, reporter: reporter, team: team, status: status, version: version, sig: sig)
    }
}
