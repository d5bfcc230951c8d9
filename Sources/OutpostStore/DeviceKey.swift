import Crypto
import Foundation
import OutpostCore

/// A replica's Ed25519 key pair, made on the device when its store is created (`trust.md`).
///
/// The private key never leaves the store and is never printed; the public key is 32 bytes.
public struct DeviceKey: Sendable {
    private let privateKey: Curve25519.Signing.PrivateKey

    /// A new random key pair.
    public init() { privateKey = Curve25519.Signing.PrivateKey() }

    /// The key pair of a 32-byte seed (RFC 8032), as a store keeps it and `trust-vectors.json` gives it.
    public init(seed: [UInt8]) throws(StoreError) {
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw StoreError(.storage, "the store's signing key is damaged (not a 32-byte Ed25519 seed)")
        }
        privateKey = key
    }

    /// The 32-byte seed (stored in the store, never shown).
    var seed: [UInt8] { Array(privateKey.rawRepresentation) }

    /// The 32-byte public key.
    public var publicKey: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }

    /// The production replica ID of this key: the first 16 bytes of SHA-256 of the public key.
    public var replicaID: ReplicaID { ReplicaID.derived(fromPublicKey: publicKey) }

    /// An Ed25519 signature of `message` (64 bytes).
    public func signature(for message: [UInt8]) -> [UInt8] {
        // BoringSSL's Ed25519 signs without failing for any message; an error here would be a
        // broken library, and a change must never go out unsigned.
        guard let sig = try? privateKey.signature(for: message) else {
            fatalError("Ed25519 signing failed")
        }
        return Array(sig)
    }

    /// Signs every change (sets `sig`), on every core at once.
    public func sign(_ changes: inout [Change]) {
        changes.withUnsafeMutableBufferPointer { buffer in
            // Each index is written by one thread only.
            nonisolated(unsafe) let items = buffer
            EveryCore.forEach(items.count) { i in items[i].sig = signature(for: items[i].canonicalBytes()) }
        }
    }

    /// The change with `sig` set: this key's signature over its canonical bytes.
    public func signed(_ change: Change) -> Change {
        var signed = change
        signed.sig = signature(for: change.canonicalBytes())
        return signed
    }
}

extension ReplicaID {
    /// The replica ID a public key gives: the first 16 bytes of its SHA-256 (`trust.md`).
    public static func derived(fromPublicKey key: [UInt8]) -> ReplicaID {
        ReplicaID(bytes: Array(SHA256.hash(data: key).prefix(16)))
    }
}

/// Ed25519 verification of signatures and changes.
public enum SignatureCheck {
    /// Whether `signature` is `publicKey`'s valid signature of `message`.
    public static func isValid(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == Change.signatureBytes,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// Whether `change` carries `publicKey`'s valid signature over its canonical bytes.
    public static func isValid(_ change: Change, publicKey: [UInt8]) -> Bool {
        guard let sig = change.sig else { return false }
        return isValid(sig, of: change.canonicalBytes(), publicKey: publicKey)
    }

    /// Checks many changes on every core: for each, nil when `key(change)` gives no key, else
    /// whether its signature verifies under that key.
    public static func check(_ changes: [Change], key: (Change) -> [UInt8]?) -> [Bool?] {
        let keys = changes.map(key)
        var results = [Bool?](repeating: nil, count: changes.count)
        let work = keys.indices.filter { keys[$0] != nil }
        guard !work.isEmpty else { return results }
        results.withUnsafeMutableBufferPointer { out in
            // Each slot is written by one thread only.
            nonisolated(unsafe) let slots = out
            EveryCore.forEach(work.count) { i in slots[work[i]] = isValid(changes[work[i]], publicKey: keys[work[i]]!) }
        }
        return results
    }
}

/// Work spread over every core.
enum EveryCore {
    /// Runs `body` for each index below `count`, in strided chunks on every core (one chunk for
    /// a few items, where threads cost more than they save); `body` must touch only its index's data.
    static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunks = count < 64 ? 1 : min(cores * 4, count / 16)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var i = chunk
            while i < count {
                body(i)
                i += chunks
            }
        }
    }
}
