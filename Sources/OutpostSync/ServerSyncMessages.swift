import Crypto
import OutpostCore
import OutpostStore

/// One batch of a reporter ↔ server sync: the reporter's changes up and a pull request.
///
/// Wire form (`Schema/openapi.yaml`, `SyncRequest`):
/// `{"replica": hex, "reporter": name, "changes": [change…], "pull": {"after": n, "after_dot": {"replica": hex,
/// "counter": n}, "limit": n, "max_bytes": n}, "key": b64u, "bind": b64u, "roster_after": n, "summary": bool,
/// "access_after": n}`.
public struct ServerSyncRequest: Hashable, Sendable {
    /// The sending replica.
    public var replica: ReplicaID
    /// The sending reporter's name.
    public var reporter: String?
    /// The reporter's own changes the server has not acknowledged.
    public var changes: [Change]
    /// More own changes as stored wire-format JSON, sent byte for byte after `changes` (never parsed
    /// or re-encoded by the sender); a decoded request always has none.
    public var rawChanges: [[UInt8]]
    /// `encodedStart()` already compressed (by `Gzip.part`) when the sender made it ahead, so only
    /// the end is compressed when the request goes; it must be of exactly this request's changes.
    public var compressedStart: Gzip.Part?
    /// The server log position already pulled.
    public var pullAfter: Int64
    /// Most changes to pull in this batch.
    public var pullLimit: Int
    /// About the most bytes of change JSON to pull in this batch.
    public var pullMaxBytes: Int
    /// The change the pull position points at (`pull.after_dot`), so a server restored from an
    /// older copy can tell that its log does not hold it there.
    public var pullAfterDot: Dot?
    /// The device's 32-byte Ed25519 public key (`key`), bound to the token on its first sync.
    public var key: [UInt8]?
    /// The key's signature over `Store.bindingMessage` (`bind`), proving possession.
    public var bind: [UInt8]?
    /// The highest roster version the device holds (`roster_after`): the answer carries newer entries.
    public var rosterAfter: UInt64?
    /// Whether the answer should carry the server's sync summary (`summary: true`).
    public var wantsSummary: Bool
    /// The last access position the device has taken notices up to (`access_after`): the answer
    /// carries the access changes after it (issue 14).
    public var accessAfter: Int64?

    /// Makes a request.
    public init(
        replica: ReplicaID, reporter: String?, changes: [Change], rawChanges: [[UInt8]] = [], pullAfter: Int64,
        pullLimit: Int = 1000, pullMaxBytes: Int = 1 << 20, pullAfterDot: Dot? = nil, key: [UInt8]? = nil,
        bind: [UInt8]? = nil, rosterAfter: UInt64? = nil, wantsSummary: Bool = false, accessAfter: Int64? = nil
    ) {
        self.replica = replica
        self.reporter = reporter
        self.changes = changes
        self.rawChanges = rawChanges
        self.pullAfter = pullAfter
        self.pullLimit = pullLimit
        self.pullMaxBytes = pullMaxBytes
        self.pullAfterDot = pullAfterDot
        self.key = key
        self.bind = bind
        self.rosterAfter = rosterAfter
        self.wantsSummary = wantsSummary
        self.accessAfter = accessAfter
    }

    /// Hard limits a server enforces on a request.
    public static let maxChanges = 5000
    /// Largest pull batch a server grants.
    public static let maxPullLimit = 5000

    /// How many changes the request carries (`changes` and `rawChanges`).
    public var changeCount: Int { changes.count + rawChanges.count }

    /// The request as JSON bytes: `encodedStart()` then `encodedEnd()`.
    public func encoded() -> [UInt8] {
        var out = encodedStart()
        out.append(contentsOf: encodedEnd())
        return out
    }

    /// The request gzip-compressed at `Gzip.syncLevel`, using `compressedStart` when it is there.
    public func gzipped() throws(GzipError) -> [UInt8] {
        if let compressedStart { return try Gzip.finish(compressedStart, with: encodedEnd()) }
        return try Gzip.compress(encoded(), level: Gzip.syncLevel)
    }

    /// The part of the JSON that holds the changes: `{"changes":[…]`.
    public func encodedStart() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + changes.count * 300 + rawChanges.reduce(0) { $0 + $1.count + 1 })
        out.append(contentsOf: Array("{\"changes\":[".utf8))
        for (i, change) in changes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            change.write(to: &out)
        }
        for (i, raw) in rawChanges.enumerated() {
            if i > 0 || !changes.isEmpty { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: raw)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The rest of the JSON: `,"bind":…,"key":…,"pull":{…},"replica":…,…}`.
    public func encodedEnd() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(400)
        if let accessAfter {
            out.append(contentsOf: Array(",\"access_after\":".utf8))
            JSONValue.writeInt(accessAfter, to: &out)
        }
        if let bind {
            out.append(contentsOf: Array(",\"bind\":".utf8))
            JSONValue.writeString(Base64URL.encode(bind), to: &out)
        }
        if let key {
            out.append(contentsOf: Array(",\"key\":".utf8))
            JSONValue.writeString(Base64URL.encode(key), to: &out)
        }
        out.append(contentsOf: Array(",\"pull\":".utf8))
        var pull: [String: JSONValue] = [
            "after": .int(pullAfter), "limit": .int(Int64(pullLimit)), "max_bytes": .int(Int64(pullMaxBytes)),
        ]
        if let pullAfterDot { pull["after_dot"] = pullAfterDot.wireJSON }
        JSONValue.object(pull).write(to: &out)
        out.append(contentsOf: Array(",\"replica\":".utf8))
        JSONValue.writeString(replica.hex, to: &out)
        if let reporter {
            out.append(contentsOf: Array(",\"reporter\":".utf8))
            JSONValue.writeString(reporter, to: &out)
        }
        if let rosterAfter {
            out.append(contentsOf: Array(",\"roster_after\":".utf8))
            JSONValue.writeInt(Int64(clamping: rosterAfter), to: &out)
        }
        if wantsSummary { out.append(contentsOf: Array(",\"summary\":true".utf8)) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The keys a sync request may have.
    static let knownKeys: Set<String> = [
        "replica", "reporter", "changes", "pull", "key", "bind", "roster_after", "summary", "access_after",
    ]

    /// Reads a request, checking every key; errors name the problem.
    public static func decode(_ json: JSONValue) throws(ChangeFormatError) -> ServerSyncRequest {
        guard case .object(let o) = json else { throw ChangeFormatError("the request body must be a JSON object") }
        for key in o.keys where !knownKeys.contains(key) {
            throw ChangeFormatError("unknown key \"\(key)\" in sync request")
        }
        guard case .string(let hex)? = o["replica"], let replica = ReplicaID(hex: hex) else {
            throw ChangeFormatError("replica must be a hex string")
        }
        var reporter: String?
        switch o["reporter"] {
        case .string(let r)?: reporter = r
        case nil, .null?: break
        default: throw ChangeFormatError("reporter must be a string")
        }
        var changes: [Change] = []
        switch o["changes"] {
        case .array(let items)?:
            guard items.count <= maxChanges else { throw ChangeFormatError("at most \(maxChanges) changes per request") }
            changes.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                do { changes.append(try Change(json: item)) } catch { throw ChangeFormatError("changes[\(i)]: \(error.message)") }
            }
        case nil: break
        default: throw ChangeFormatError("changes must be an array")
        }
        var key: [UInt8]?
        switch o["key"] {
        case .string(let text)?:
            guard let bytes = Base64URL.decode(text), bytes.count == 32 else {
                throw ChangeFormatError(
                    "key must be the device's 32-byte Ed25519 public key in unpadded base64url (43 characters)")
            }
            key = bytes
        case nil, .null?: break
        default:
            throw ChangeFormatError("key must be the device's 32-byte Ed25519 public key in unpadded base64url (43 characters)")
        }
        var bind: [UInt8]?
        switch o["bind"] {
        case .string(let text)?:
            guard let bytes = Change.signature(fromText: text) else {
                throw ChangeFormatError("bind must be a 64-byte Ed25519 signature in unpadded base64url (86 characters)")
            }
            bind = bytes
        case nil, .null?: break
        default: throw ChangeFormatError("bind must be a 64-byte Ed25519 signature in unpadded base64url (86 characters)")
        }
        var rosterAfter: UInt64?
        switch o["roster_after"] {
        case .int(let n)? where n >= 0: rosterAfter = UInt64(n)
        case nil, .null?: break
        default: throw ChangeFormatError("roster_after must be a whole number ≥ 0")
        }
        var wantsSummary = false
        switch o["summary"] {
        case .bool(let b)?: wantsSummary = b
        case nil, .null?: break
        default: throw ChangeFormatError("summary must be a boolean")
        }
        var accessAfter: Int64?
        switch o["access_after"] {
        case .int(let n)? where n >= 0: accessAfter = n
        case nil, .null?: break
        default: throw ChangeFormatError("access_after must be a whole number ≥ 0")
        }
        var after: Int64 = 0
        var afterDot: Dot?
        var limit = 1000
        var maxBytes = 1 << 20
        if let pull = o["pull"] {
            guard case .object(let p) = pull else { throw ChangeFormatError("pull must be an object") }
            for key in p.keys where !["after", "after_dot", "limit", "max_bytes"].contains(key) {
                throw ChangeFormatError("unknown key \"\(key)\" in pull")
            }
            if let v = p["after"] {
                guard case .int(let n) = v, n >= 0 else { throw ChangeFormatError("pull.after must be a whole number ≥ 0") }
                after = n
            }
            switch p["after_dot"] {
            case nil, .null?: break
            case let v?: afterDot = try Dot(wireJSON: v, name: "pull.after_dot")
            }
            if let v = p["limit"] {
                guard case .int(let n) = v, n >= 0 else { throw ChangeFormatError("pull.limit must be a whole number ≥ 0") }
                limit = Int(min(n, Int64(maxPullLimit)))
            }
            if let v = p["max_bytes"] {
                guard case .int(let n) = v, n >= 1 else { throw ChangeFormatError("pull.max_bytes must be a whole number ≥ 1") }
                maxBytes = Int(min(n, 8 << 20))
            }
        }
        return ServerSyncRequest(
            replica: replica, reporter: reporter, changes: changes, pullAfter: after, pullLimit: limit, pullMaxBytes: maxBytes,
            pullAfterDot: afterDot, key: key, bind: bind, rosterAfter: rosterAfter, wantsSummary: wantsSummary,
            accessAfter: accessAfter)
    }
}

extension Dot {
    /// The dot as sync JSON: `{"replica": hex, "counter": n}` (`pull.after_dot`, `cursor_dot`).
    public var wireJSON: JSONValue {
        .object(["replica": .string(replica.hex), "counter": .int(Int64(clamping: counter))])
    }

    /// Reads a dot written by `wireJSON`; errors name the problem under `name`.
    public init(wireJSON json: JSONValue, name: String) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("\(name) must be an object {replica, counter}") }
        for key in o.keys where key != "replica" && key != "counter" {
            throw ChangeFormatError("unknown key \"\(key)\" in \(name)")
        }
        guard case .string(let hex)? = o["replica"], let replica = ReplicaID(hex: hex) else {
            throw ChangeFormatError("\(name).replica must be a replica id in lowercase hex")
        }
        guard case .int(let n)? = o["counter"], Change.counterRange.contains(n) else {
            throw ChangeFormatError(
                "\(name).counter must be a whole number from 1 to \(Change.counterRange.upperBound) (2^53 − 1)")
        }
        self.init(replica: replica, counter: UInt64(n))
    }
}

/// The server's answer to one sync batch: the acknowledgement and the changes pulled.
///
/// Wire form: `{"server_time_ms": n, "acked_counter": n, "applied": n, "duplicates": n,
/// "held_back": n, "changes": [change…], "cursor": n, "cursor_dot": {"replica": hex, "counter": n},
/// "cursor_reset": bool, "more": bool, "roster_key": b64u, "roster": [entry…], "summary": {…},
/// "access": [notice…], "access_cursor": n, "parcel_key": b64u, "parcel_key_sig": b64u}`.
public struct ServerSyncResponse: Hashable, Sendable {
    /// The server's clock (ms since the epoch) when it answered.
    public var serverTimeMs: Int64
    /// The highest n such that the server holds the reporter's changes 1…n.
    public var ackedCounter: UInt64
    /// Pushed changes applied.
    public var applied: Int
    /// Pushed changes the server already had.
    public var duplicates: Int
    /// Pushed changes the server holds back until their deps arrive.
    public var heldBack: Int
    /// Changes pulled, in the server's log order.
    public var changes: [Change]
    /// The server log position to pull after next time.
    public var cursor: Int64
    /// Whether more changes are waiting to be pulled.
    public var more: Bool
    /// The change at `cursor` in the server's log (`cursor_dot`), sent back as `pull.after_dot`.
    public var cursorDot: Dot?
    /// Whether the request's `pull.after_dot` did not match the server's log (`cursor_reset`): the
    /// server was restored from an older copy and this answer pulled from position 0.
    public var cursorReset: Bool
    /// The server's 32-byte roster key (`roster_key`), which a device pins at its first sync.
    public var rosterKey: [UInt8]?
    /// Roster entries newer than the request's `roster_after` (`roster`).
    public var roster: [RosterEntry]
    /// The server's sync summary, when the request asked for it (`summary`).
    public var summary: SyncSummary?
    /// Changes of who may read records since the request's `access_after` (`access`).
    public var access: [AccessNotice]
    /// The access position the notices reach (`access_cursor`): the next `access_after`.
    public var accessCursor: Int64?
    /// The server's 32-byte X25519 parcel key (`parcel_key`), which devices seal parcels to.
    public var parcelKey: [UInt8]?
    /// The roster key's signature over `Store.parcelKeyStatement(parcelKey)` (`parcel_key_sig`).
    public var parcelKeySignature: [UInt8]?

    /// Makes a response.
    public init(
        serverTimeMs: Int64, ackedCounter: UInt64, applied: Int, duplicates: Int, heldBack: Int, changes: [Change],
        cursor: Int64, more: Bool, cursorDot: Dot? = nil, cursorReset: Bool = false, rosterKey: [UInt8]? = nil,
        roster: [RosterEntry] = [], summary: SyncSummary? = nil, access: [AccessNotice] = [], accessCursor: Int64? = nil,
        parcelKey: [UInt8]? = nil, parcelKeySignature: [UInt8]? = nil
    ) {
        self.serverTimeMs = serverTimeMs
        self.ackedCounter = ackedCounter
        self.applied = applied
        self.duplicates = duplicates
        self.heldBack = heldBack
        self.changes = changes
        self.cursor = cursor
        self.more = more
        self.cursorDot = cursorDot
        self.cursorReset = cursorReset
        self.rosterKey = rosterKey
        self.roster = roster
        self.summary = summary
        self.access = access
        self.accessCursor = accessCursor
        self.parcelKey = parcelKey
        self.parcelKeySignature = parcelKeySignature
    }

    /// Encodes a response whose changes are already wire-format JSON (spliced in without re-encoding).
    public static func encode(
        serverTimeMs: Int64, ackedCounter: UInt64, applied: Int, duplicates: Int, heldBack: Int, rawChanges: [[UInt8]],
        cursor: Int64, more: Bool, cursorDot: Dot? = nil, cursorReset: Bool = false, rosterKey: [UInt8]? = nil,
        roster: [RosterEntry] = [], summary: SyncSummary? = nil, access: [AccessNotice] = [], accessCursor: Int64? = nil,
        parcelKey: [UInt8]? = nil, parcelKeySignature: [UInt8]? = nil
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + rawChanges.reduce(0) { $0 + $1.count + 1 } + roster.count * 300)
        out.append(contentsOf: Array("{".utf8))
        if !access.isEmpty {
            out.append(contentsOf: Array("\"access\":".utf8))
            JSONValue.array(access.map(\.json)).write(to: &out)
            out.append(UInt8(ascii: ","))
        }
        if let accessCursor {
            out.append(contentsOf: Array("\"access_cursor\":".utf8))
            JSONValue.writeInt(accessCursor, to: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: Array("\"acked_counter\":".utf8))
        JSONValue.writeInt(Int64(ackedCounter), to: &out)
        out.append(contentsOf: Array(",\"applied\":".utf8))
        JSONValue.writeInt(Int64(applied), to: &out)
        out.append(contentsOf: Array(",\"changes\":[".utf8))
        for (i, raw) in rawChanges.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: raw)
        }
        out.append(contentsOf: Array("],\"cursor\":".utf8))
        JSONValue.writeInt(cursor, to: &out)
        if let cursorDot {
            out.append(contentsOf: Array(",\"cursor_dot\":".utf8))
            cursorDot.wireJSON.write(to: &out)
        }
        if cursorReset { out.append(contentsOf: Array(",\"cursor_reset\":true".utf8)) }
        out.append(contentsOf: Array(",\"duplicates\":".utf8))
        JSONValue.writeInt(Int64(duplicates), to: &out)
        out.append(contentsOf: Array(",\"held_back\":".utf8))
        JSONValue.writeInt(Int64(heldBack), to: &out)
        out.append(contentsOf: Array(",\"more\":".utf8))
        out.append(contentsOf: Array((more ? "true" : "false").utf8))
        if let parcelKey, let parcelKeySignature {
            out.append(contentsOf: Array(",\"parcel_key\":".utf8))
            JSONValue.writeString(Base64URL.encode(parcelKey), to: &out)
            out.append(contentsOf: Array(",\"parcel_key_sig\":".utf8))
            JSONValue.writeString(Base64URL.encode(parcelKeySignature), to: &out)
        }
        if let rosterKey {
            out.append(contentsOf: Array(",\"roster\":".utf8))
            JSONValue.array(roster.map(\.json)).write(to: &out)
            out.append(contentsOf: Array(",\"roster_key\":".utf8))
            JSONValue.writeString(Base64URL.encode(rosterKey), to: &out)
        }
        out.append(contentsOf: Array(",\"server_time_ms\":".utf8))
        JSONValue.writeInt(serverTimeMs, to: &out)
        if let summary {
            out.append(contentsOf: Array(",\"summary\":".utf8))
            summary.json.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The response as JSON bytes.
    public func encoded() -> [UInt8] {
        ServerSyncResponse.encode(
            serverTimeMs: serverTimeMs, ackedCounter: ackedCounter, applied: applied, duplicates: duplicates,
            heldBack: heldBack, rawChanges: changes.map { $0.encodedJSON() }, cursor: cursor, more: more,
            cursorDot: cursorDot, cursorReset: cursorReset, rosterKey: rosterKey, roster: roster, summary: summary,
            access: access, accessCursor: accessCursor, parcelKey: parcelKey, parcelKeySignature: parcelKeySignature)
    }

    /// Reads a response.
    public static func decode(_ json: JSONValue) throws(ChangeFormatError) -> ServerSyncResponse {
        guard case .object(let o) = json else { throw ChangeFormatError("the response body must be a JSON object") }
        func int(_ key: String) throws(ChangeFormatError) -> Int64 {
            guard case .int(let n)? = o[key], n >= 0 else { throw ChangeFormatError("\(key) must be a whole number ≥ 0") }
            return n
        }
        guard case .array(let items)? = o["changes"] else { throw ChangeFormatError("changes must be an array") }
        var changes: [Change] = []
        changes.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            do { changes.append(try Change(json: item)) } catch { throw ChangeFormatError("changes[\(i)]: \(error.message)") }
        }
        guard case .bool(let more)? = o["more"] else { throw ChangeFormatError("more must be a boolean") }
        var cursorDot: Dot?
        switch o["cursor_dot"] {
        case nil, .null?: break
        case let v?: cursorDot = try Dot(wireJSON: v, name: "cursor_dot")
        }
        var cursorReset = false
        switch o["cursor_reset"] {
        case .bool(let b)?: cursorReset = b
        case nil, .null?: break
        default: throw ChangeFormatError("cursor_reset must be a boolean")
        }
        var rosterKey: [UInt8]?
        switch o["roster_key"] {
        case .string(let text)?:
            guard let bytes = Base64URL.decode(text), bytes.count == 32 else {
                throw ChangeFormatError("roster_key must be a 32-byte Ed25519 public key in unpadded base64url")
            }
            rosterKey = bytes
        case nil, .null?: break
        default: throw ChangeFormatError("roster_key must be a 32-byte Ed25519 public key in unpadded base64url")
        }
        var roster: [RosterEntry] = []
        switch o["roster"] {
        case .array(let entries)?:
            roster.reserveCapacity(entries.count)
            for (i, entry) in entries.enumerated() {
                do { roster.append(try RosterEntry(json: entry)) } catch {
                    throw ChangeFormatError("roster[\(i)]: \(error.message)")
                }
            }
        case nil, .null?: break
        default: throw ChangeFormatError("roster must be an array")
        }
        var summary: SyncSummary?
        switch o["summary"] {
        case nil, .null?: break
        case let v?:
            do { summary = try SyncSummary(json: v) } catch { throw ChangeFormatError("summary: \(error.message)") }
        }
        var access: [AccessNotice] = []
        switch o["access"] {
        case .array(let notices)?:
            for (i, notice) in notices.enumerated() {
                do { access.append(try AccessNotice(json: notice)) } catch {
                    throw ChangeFormatError("access[\(i)]: \(error.message)")
                }
            }
        case nil, .null?: break
        default: throw ChangeFormatError("access must be an array")
        }
        var accessCursor: Int64?
        switch o["access_cursor"] {
        case .int(let n)? where n >= 0: accessCursor = n
        case nil, .null?: break
        default: throw ChangeFormatError("access_cursor must be a whole number ≥ 0")
        }
        var parcelKey: [UInt8]?
        var parcelKeySignature: [UInt8]?
        switch (o["parcel_key"], o["parcel_key_sig"]) {
        case (.string(let keyText)?, .string(let sigText)?):
            guard let key = Base64URL.decode(keyText), key.count == 32 else {
                throw ChangeFormatError("parcel_key must be a 32-byte X25519 public key in unpadded base64url")
            }
            guard let signature = Change.signature(fromText: sigText) else {
                throw ChangeFormatError("parcel_key_sig must be an Ed25519 signature in unpadded base64url (86 characters)")
            }
            (parcelKey, parcelKeySignature) = (key, signature)
        case (nil, nil), (.null?, .null?): break
        default: throw ChangeFormatError("parcel_key and parcel_key_sig come together, as base64url strings")
        }
        return ServerSyncResponse(
            serverTimeMs: try int("server_time_ms"), ackedCounter: UInt64(try int("acked_counter")),
            applied: Int(try int("applied")), duplicates: Int(try int("duplicates")), heldBack: Int(try int("held_back")),
            changes: changes, cursor: try int("cursor"), more: more, cursorDot: cursorDot, cursorReset: cursorReset,
            rosterKey: rosterKey, roster: roster, summary: summary, access: access, accessCursor: accessCursor,
            parcelKey: parcelKey, parcelKeySignature: parcelKeySignature)
    }
}

/// A link to a sync server: one round trip per batch.
public protocol ServerLink: Sendable {
    /// Sends one batch and returns the server's answer.
    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse

    /// How many exchanges the link carries at once (1 when they would only queue behind each other).
    var maxInFlight: Int { get }

    /// Hands the server one sealed parcel (`POST /v1/parcels`); see `ParcelReceipt.swift`.
    func sendParcel(_ parcel: [UInt8]) async throws -> ParcelReceipt
}

extension ServerLink {
    /// One exchange at a time, unless the link says otherwise.
    public var maxInFlight: Int { 1 }
}
