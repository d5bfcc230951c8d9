import OutpostCore

/// One entry of the server's roster: a replica, its public key, its reporter and status, signed
/// by the server's roster key (`trust.md`, "Device keys and the roster").
///
/// Wire form: `{"replica": hex, "key": b64u, "reporter": name, "status": "active"|"revoked",
/// "version": n, "sig": b64u}`.
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
    /// Active or revoked.
    public var status: Status
    /// Raised by the server on every change of the entry; a replica keeps the highest it verified.
    public var version: UInt64
    /// The server roster key's signature over `signedBytes` (nil for an entry trusted locally).
    public var sig: [UInt8]?

    /// Makes an entry.
    public init(replica: ReplicaID, key: [UInt8], reporter: String, status: Status, version: UInt64, sig: [UInt8]? = nil) {
        self.replica = replica
        self.key = key
        self.reporter = reporter
        self.status = status
        self.version = version
        self.sig = sig
    }

    /// The prefix of the bytes a roster entry's signature covers.
    public static let signedPrefix = Array("OUTPOST-ROSTER-1\n".utf8)

    /// What the server's roster key signs: the prefix, u8 length and replica bytes, the 32-byte
    /// key, u16 length and the reporter's UTF-8, u8 status (0 active, 1 revoked), u64 version
    /// (big-endian).
    public var signedBytes: [UInt8] {
        var out = RosterEntry.signedPrefix
        out.append(UInt8(truncatingIfNeeded: replica.bytes.count))
        out.append(contentsOf: replica.bytes)
        out.append(contentsOf: key)
        let name = Array(reporter.utf8)
        out.append(UInt8(truncatingIfNeeded: name.count >> 8))
        out.append(UInt8(truncatingIfNeeded: name.count))
        out.append(contentsOf: name)
        out.append(status == .active ? 0 : 1)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: version >> UInt64(shift))) }
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

    /// `{replica, key, reporter, status, version, sig?}`.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "replica": .string(replica.hex), "key": .string(Base64URL.encode(key)), "reporter": .string(reporter),
            "status": .string(status.rawValue), "version": .int(Int64(clamping: version)),
        ]
        if let sig { members["sig"] = .string(Base64URL.encode(sig)) }
        return .object(members)
    }

    /// Reads an entry, checking every key; errors name the problem.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("a roster entry must be a JSON object") }
        for k in o.keys where !["replica", "key", "reporter", "status", "version", "sig"].contains(k) {
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
        self.init(replica: replica, key: key, reporter: reporter, status: status, version: version, sig: sig)
    }
}
