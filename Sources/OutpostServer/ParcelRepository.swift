import OutpostCore
import OutpostSync

/// The server's parcel key as devices pin it: the 32-byte X25519 public key and the roster key's
/// signature over `Store.parcelKeyStatement(key)`.
public struct ParcelKeyVouch: Hashable, Sendable {
    /// The X25519 public key parcels are sealed to.
    public var key: [UInt8]
    /// The roster key's Ed25519 signature over the key's statement.
    public var signature: [UInt8]

    /// Makes one.
    public init(key: [UInt8], signature: [UInt8]) {
        self.key = key
        self.signature = signature
    }

    /// `<b64u key>.<b64u signature>`: what `outpost-server enroll` prints and `outpost config
    /// --parcel-key` takes.
    public var text: String { Base64URL.encode(key) + "." + Base64URL.encode(signature) }
}

/// The server's side of sealed parcels (issue 14): open one, verify and apply its changes.
public protocol ParcelRepository: Sendable {
    /// Opens `parcel`, verifies every change as for a pushed batch and applies them, attributed
    /// to the token `deliveredBy`; a parcel opened before is a duplicate and changes nothing.
    /// Throws `ParcelError` for bytes that are not a parcel for this server (the security event
    /// is recorded), and `StoreError` as a sync batch does (nothing of the parcel applied).
    func openParcel(_ parcel: [UInt8], deliveredBy token: Int64?) async throws -> ParcelReceipt
}
