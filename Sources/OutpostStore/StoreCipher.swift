import Crypto
import Foundation
import OutpostCore

/// The key that seals an encrypted store's content: ChaChaPoly (RFC 8439) with a random
/// 12-byte nonce per value, stored as `nonce ‖ ciphertext ‖ tag` (28 bytes more than the value).
///
/// Each value's associated data names where it lives (`SealedPlace`), so a value copied or moved
/// into another row, table or meta key does not open there.
public struct StoreCipher: Sendable {
    /// What `meta.cipher` says in a store sealed by this cipher.
    public static let formatName = "chachapoly-v1"
    /// The bytes a stored value grows by: nonce (12) and tag (16).
    public static let overhead = 28

    let key: SymmetricKey

    /// Makes a cipher from a 32-byte data key; any other size is refused.
    public init(key: SymmetricKey) throws(StoreError) {
        guard key.bitCount == 256 else {
            throw StoreError(.invalidValue, "a store key is 32 bytes (256 bits), not \(key.bitCount / 8) bytes")
        }
        self.key = key
    }

    /// A new random 32-byte data key.
    public static func randomKey() -> SymmetricKey { SymmetricKey(size: .bits256) }

    /// Appends `plaintext` sealed for `place` to `out`.
    func seal(_ plaintext: UnsafeRawBufferPointer, for place: SealedPlace, to out: inout [UInt8]) throws {
        let box = try ChaChaPoly.seal(plaintext, using: key, nonce: ChaChaPoly.Nonce(), authenticating: place.associatedData)
        out.append(contentsOf: box.combined)
    }

    /// `plaintext` sealed for `place`.
    func sealed(_ plaintext: [UInt8], for place: SealedPlace) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(plaintext.count + StoreCipher.overhead)
        try plaintext.withUnsafeBytes { try seal($0, for: place, to: &out) }
        return out
    }

    /// Seals the bytes of `out` from `start` on in place (they were just appended there in the
    /// clear); `nonces`, when given, supplies the random nonce (else one is drawn for this value).
    func sealTail(of out: inout [UInt8], from start: Int, for place: SealedPlace, nonces: NonceSource? = nil) throws {
        let associatedData = place.associatedData
        let nonce = try nonces?.next() ?? ChaChaPoly.Nonce()
        let box = try out.withUnsafeBytes { bytes in
            try ChaChaPoly.seal(
                UnsafeRawBufferPointer(rebasing: bytes[start...]), using: key, nonce: nonce, authenticating: associatedData)
        }
        out.removeSubrange(start...)
        out.append(contentsOf: box.combined)
    }

    /// The value sealed for `place`; a clear error when it does not open (altered, moved from
    /// another place, or sealed under another key).
    func open(_ sealed: UnsafeRawBufferPointer, for place: SealedPlace) throws(StoreError) -> Data {
        do {
            let box = try ChaChaPoly.SealedBox(combined: sealed)
            return try ChaChaPoly.open(box, using: key, authenticating: place.associatedData)
        } catch {
            throw StoreError(
                .storage,
                "the store is damaged or was tampered with: the sealed value of \(place) does not open under the store's key (it was altered, or copied there from another row)"
            )
        }
    }
}

/// Random 12-byte nonces drawn from the system's CSPRNG 64 at a time: one system call for 64
/// values instead of one each (an import seals two values per incident on the encoder thread).
final class NonceSource: @unchecked Sendable {
    // @unchecked Sendable: an instance is made for one encoder closure and used only by the one
    // thread that runs it (`EncodingPipeline` encodes on a single thread), never concurrently.
    private var buffer = [UInt8](repeating: 0, count: 12 * 64)
    private var used = 12 * 64

    /// The next nonce, never handed out before.
    func next() throws -> ChaChaPoly.Nonce {
        if used == buffer.count {
            // glibc's arc4random_buf: the kernel's CSPRNG, one system call for the whole buffer.
            buffer.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
            used = 0
        }
        defer { used += 12 }
        return try ChaChaPoly.Nonce(data: buffer[used..<used + 12])
    }
}

/// Where a sealed value lives; its associated data binds the value to that place.
enum SealedPlace: CustomStringConvertible {
    /// `changes.body` of the change `dot` on `record` (applied or held back).
    case changeBody(RecordKey, Dot)
    /// `records.state` of a record.
    case recordState(RecordKey)
    /// `meta.value` under a key.
    case meta(String)
    /// `replicas.reporter` of a replica.
    case replicaReporter(ReplicaID)
    /// `roster.reporter` of a replica.
    case rosterReporter(ReplicaID)
    /// `roster.sig` of a replica.
    case rosterSignature(ReplicaID)
    /// `roster.team` of a replica.
    case rosterTeam(ReplicaID)
    /// `record_access.team` of a record.
    case recordTeam(RecordKey)

    /// The associated data: `"outpost-v1"`, then the table, the column and each part of the
    /// row's identity, each as a 4-byte big-endian length and its bytes (so no two places give
    /// the same bytes, whatever their ids contain).
    var associatedData: [UInt8] {
        var out = Array("outpost-v1".utf8)
        out.reserveCapacity(128)
        func part(_ bytes: some Collection<UInt8>) {
            let count = UInt32(bytes.count)
            out += [UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)]
            out += bytes
        }
        switch self {
        case .changeBody(let record, let dot):
            part("changes.body".utf8)
            part(record.collection.utf8)
            part(record.id.utf8)
            part(dot.replica.bytes)
            part(String(dot.counter).utf8)
        case .recordState(let record):
            part("records.state".utf8)
            part(record.collection.utf8)
            part(record.id.utf8)
        case .meta(let key):
            part("meta.value".utf8)
            part(key.utf8)
        case .replicaReporter(let replica):
            part("replicas.reporter".utf8)
            part(replica.bytes)
        case .rosterReporter(let replica):
            part("roster.reporter".utf8)
            part(replica.bytes)
        case .rosterSignature(let replica):
            part("roster.sig".utf8)
            part(replica.bytes)
        case .rosterTeam(let replica):
            part("roster.team".utf8)
            part(replica.bytes)
        case .recordTeam(let record):
            part("record_access.team".utf8)
            part(record.collection.utf8)
            part(record.id.utf8)
        }
        return out
    }

    var description: String {
        switch self {
        case .changeBody(let record, let dot): "change \(dot) of \(record.collection) \(record.id)"
        case .recordState(let record): "the record \(record.collection) \(record.id)"
        case .meta(let key): "the setting \(key)"
        case .replicaReporter(let replica): "the reporter of replica \(replica.hex)"
        case .rosterReporter(let replica): "the roster's reporter of replica \(replica.hex)"
        case .rosterSignature(let replica): "the roster's signature of replica \(replica.hex)"
        case .rosterTeam(let replica): "the roster's team of replica \(replica.hex)"
        case .recordTeam(let record): "the team of \(record.collection) \(record.id)"
        }
    }
}
