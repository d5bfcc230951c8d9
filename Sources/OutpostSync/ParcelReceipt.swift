import OutpostCore

/// The server's answer to a sealed parcel (`POST /v1/parcels`): whether it opened and applied it
/// now or had done so before, and what applying its changes did.
///
/// Wire form: `{"status": "applied" | "duplicate", "parcel": b64u SHA-256, "changes": n,
/// "applied": n, "duplicates": n, "held_back": n}` (a duplicate counts nothing: it was not opened).
public struct ParcelReceipt: Hashable, Sendable {
    /// What the server did with the parcel.
    public enum Status: String, Hashable, Sendable {
        /// Opened, every change verified and applied (or held back, or known already).
        case applied
        /// Opened and applied before: nothing was done this time.
        case duplicate
    }

    /// What the server did with the parcel.
    public var status: Status
    /// The parcel's identity, SHA-256 of its bytes (`Parcel.hash`).
    public var parcel: [UInt8]
    /// Changes the parcel held (0 for a duplicate).
    public var changes: Int
    /// Changes applied to record state.
    public var applied: Int
    /// Changes the server held already.
    public var duplicates: Int
    /// Changes held back until their deps arrive.
    public var heldBack: Int

    /// Makes a receipt.
    public init(status: Status, parcel: [UInt8], changes: Int = 0, applied: Int = 0, duplicates: Int = 0, heldBack: Int = 0) {
        self.status = status
        self.parcel = parcel
        self.changes = changes
        self.applied = applied
        self.duplicates = duplicates
        self.heldBack = heldBack
    }

    /// The receipt as JSON.
    public var json: JSONValue {
        .object([
            "status": .string(status.rawValue), "parcel": .string(Base64URL.encode(parcel)),
            "changes": .int(Int64(changes)), "applied": .int(Int64(applied)), "duplicates": .int(Int64(duplicates)),
            "held_back": .int(Int64(heldBack)),
        ])
    }

    /// Reads a receipt written by `json`.
    public init(json: JSONValue) throws(ChangeFormatError) { self = try ParcelReceipt.decode(json) }

    /// Reads a receipt written by `json`.
    public static func decode(_ json: JSONValue) throws(ChangeFormatError) -> ParcelReceipt {
        guard case .object(let o) = json else { throw ChangeFormatError("a parcel receipt must be a JSON object") }
        guard let text = o["status"]?.stringValue, let status = Status(rawValue: text) else {
            throw ChangeFormatError("status must be \"applied\" or \"duplicate\"")
        }
        guard let hashText = o["parcel"]?.stringValue, let hash = Base64URL.decode(hashText), hash.count == 32 else {
            throw ChangeFormatError("parcel must be the parcel's SHA-256 in unpadded base64url")
        }
        return ParcelReceipt(
            status: status, parcel: hash, changes: try count(o, "changes"), applied: try count(o, "applied"),
            duplicates: try count(o, "duplicates"), heldBack: try count(o, "held_back"))
    }

    /// The whole number ≥ 0 at `key`.
    private static func count(_ o: [String: JSONValue], _ key: String) throws(ChangeFormatError) -> Int {
        guard case .int(let n)? = o[key], n >= 0, n <= Int64(Int32.max) else {
            throw ChangeFormatError("\(key) must be a whole number ≥ 0")
        }
        return Int(n)
    }
}

extension ServerLink {
    /// A link that cannot carry parcels says so; the parcel stays with the device.
    public func sendParcel(_ parcel: [UInt8]) async throws -> ParcelReceipt {
        throw ServerLinkError(.rejected, "this link to the server cannot carry sealed parcels; they stay on this device")
    }
}
