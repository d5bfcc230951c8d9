import Crypto
import Foundation
import OutpostCore

/// A parcel that cannot be sealed or opened, with the reason.
public struct ParcelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why.
    public var message: String

    /// Makes an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// A sealed parcel: signed changes that only the server can read, carried by devices that may
/// not read them (another team's, or restricted records; issue 14).
///
/// HPKE (RFC 9180, base mode, `Curve25519_SHA256_ChachaPoly`) to the server's parcel key, with
/// `info` = `"OUTPOST-PARCEL-1"`. Layout:
///
/// ```
/// "OUTPOST-PARCEL-1\n"            17 bytes
/// 32 bytes                        the recipient's X25519 public key (the server's parcel key)
/// u16 length, encapsulated key    HPKE's `enc` (32 bytes for X25519)
/// ciphertext                      HPKE seal of the gzip-compressed payload, with every byte
///                                 above as associated data
/// ```
///
/// The payload is the changes' wire-format JSON, one per line. A change inside keeps its
/// author's signature, so the server verifies each as if its author had pushed it; the carrier
/// can neither read nor alter one (a flipped byte fails the whole parcel).
public enum Parcel {
    /// The first bytes of every parcel.
    public static let magic = Array("OUTPOST-PARCEL-1\n".utf8)
    /// HPKE's `info` for parcels.
    public static let info = Array("OUTPOST-PARCEL-1".utf8)
    /// The HPKE suite.
    public static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    /// Most changes one parcel holds (more go into several parcels).
    public static let maxChanges = 1000
    /// The largest payload a parcel may expand to.
    public static let maxPayloadBytes = 64 << 20

    /// Seals changes (each its wire-format JSON) to `parcelKey`, the server's 32-byte X25519
    /// public key; at most `maxChanges`.
    public static func seal(changeBodies: [[UInt8]], to parcelKey: [UInt8]) throws(ParcelError) -> [UInt8] {
        guard !changeBodies.isEmpty else { throw ParcelError("a parcel holds at least one change") }
        guard changeBodies.count <= maxChanges else {
            throw ParcelError("a parcel holds at most \(maxChanges) changes, not \(changeBodies.count)")
        }
        let recipient: Curve25519.KeyAgreement.PublicKey
        do { recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: parcelKey) } catch {
            throw ParcelError("the server's parcel key must be a 32-byte X25519 public key")
        }
        var payload: [UInt8] = []
        payload.reserveCapacity(changeBodies.reduce(0) { $0 + $1.count + 1 })
        for body in changeBodies {
            payload.append(contentsOf: body)
            payload.append(0x0A)
        }
        let compressed: [UInt8]
        do { compressed = try Gzip.compress(payload) } catch { throw ParcelError("cannot compress the parcel: \(error.message)") }
        do {
            var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: ciphersuite, info: Data(info))
            let enc = Array(sender.encapsulatedKey)
            var header = magic + parcelKey
            header.append(UInt8(truncatingIfNeeded: enc.count >> 8))
            header.append(UInt8(truncatingIfNeeded: enc.count))
            header += enc
            let sealed = try sender.seal(compressed, authenticating: header)
            return header + Array(sealed)
        } catch {
            throw ParcelError("cannot seal the parcel: \(error)")
        }
    }

    /// Seals any number of changes into parcels of at most `maxChanges` each, in order.
    public static func seal(changeBodies: [[UInt8]], to parcelKey: [UInt8], perParcel: Int = maxChanges) throws(ParcelError)
        -> [[UInt8]]
    {
        var parcels: [[UInt8]] = []
        var start = 0
        let step = max(1, min(perParcel, maxChanges))
        while start < changeBodies.count {
            let end = min(changeBodies.count, start + step)
            parcels.append(try seal(changeBodies: Array(changeBodies[start..<end]), to: parcelKey))
            start = end
        }
        return parcels
    }

    /// The recipient key a parcel names, nil when the bytes are not a parcel.
    public static func recipientKey(of parcel: [UInt8]) -> [UInt8]? {
        guard parcel.count > magic.count + 34, Array(parcel[0..<magic.count]) == magic else { return nil }
        return Array(parcel[magic.count..<magic.count + 32])
    }

    /// The parcel's identity: SHA-256 of its bytes (a parcel held or opened twice counts once).
    public static func hash(_ parcel: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: parcel)) }

    /// Opens a parcel with the server's private parcel key and returns its changes (checked for
    /// form, not yet verified: the caller verifies every signature as for a push).
    public static func open(_ parcel: [UInt8], with privateKey: Curve25519.KeyAgreement.PrivateKey) throws(ParcelError)
        -> [Change]
    {
        guard let recipient = recipientKey(of: parcel) else {
            throw ParcelError("not an Outpost parcel (it does not start with OUTPOST-PARCEL-1)")
        }
        guard recipient == Array(privateKey.publicKey.rawRepresentation) else {
            throw ParcelError("the parcel is sealed to another parcel key, not this server's")
        }
        var offset = magic.count + 32
        let encCount = Int(parcel[offset]) << 8 | Int(parcel[offset + 1])
        offset += 2
        guard encCount == 32, parcel.count > offset + encCount else { throw ParcelError("the parcel is damaged: bad key length") }
        let enc = Array(parcel[offset..<offset + encCount])
        let header = Array(parcel[0..<offset + encCount])
        let ciphertext = Array(parcel[(offset + encCount)...])
        let compressed: Data
        do {
            var recipient = try HPKE.Recipient(
                privateKey: privateKey, ciphersuite: ciphersuite, info: Data(info), encapsulatedKey: Data(enc))
            compressed = try recipient.open(ciphertext, authenticating: header)
        } catch {
            throw ParcelError("the parcel is damaged or was tampered with: it does not open")
        }
        let payload: [UInt8]
        do { payload = try Gzip.decompress(Array(compressed), maxOutput: maxPayloadBytes) } catch {
            throw ParcelError("the parcel's payload is damaged: \(error.message)")
        }
        var changes: [Change] = []
        var lineStart = 0
        var index = 0
        while lineStart < payload.count {
            let lineEnd = payload[lineStart...].firstIndex(of: 0x0A) ?? payload.count
            if lineEnd > lineStart {
                guard changes.count < maxChanges else { throw ParcelError("the parcel holds more than \(maxChanges) changes") }
                do {
                    let change = try payload.withUnsafeBufferPointer { buffer in
                        try Change(jsonBytes: UnsafeBufferPointer(rebasing: buffer[lineStart..<lineEnd]))
                    }
                    changes.append(change)
                } catch {
                    throw ParcelError("the parcel's change \(index + 1) is malformed: \(error)")
                }
                index += 1
            }
            lineStart = lineEnd + 1
        }
        guard !changes.isEmpty else { throw ParcelError("the parcel holds no changes") }
        return changes
    }
}
