import Crypto
import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// `trust-vectors.json` (copied from the shared spec): every canonical byte and signature.
@Suite struct TrustVectorTests {
    struct Vectors {
        var keys: [(seed: [UInt8], publicKey: String, replica: String)] = []
        var changes: [(json: JSONValue, canonicalHex: String, sig: String)] = []
    }

    static func load() throws -> Vectors {
        let url = try #require(
            Bundle.module.url(forResource: "trust-vectors", withExtension: "json", subdirectory: "TrustVectors"))
        let json = try JSONParser.parse(Array(try Data(contentsOf: url)))
        var vectors = Vectors()
        for key in json["keys"]?.arrayValue ?? [] {
            vectors.keys.append(
                (
                    hexBytes(key["seed_hex"]?.stringValue ?? ""), key["public_b64u"]?.stringValue ?? "",
                    key["replica"]?.stringValue ?? ""
                ))
        }
        for item in json["changes"]?.arrayValue ?? [] {
            vectors.changes.append(
                (item["change"] ?? .null, item["canonical_hex"]?.stringValue ?? "", item["sig"]?.stringValue ?? ""))
        }
        return vectors
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(hex.utf8)[...]
        while chars.count >= 2 {
            out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
            chars = chars.dropFirst(2)
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func keysGiveTheirPublicKeysAndReplicaIDs() throws {
        let vectors = try Self.load()
        #expect(vectors.keys.count == 2)
        for key in vectors.keys {
            let device = try DeviceKey(seed: key.seed)
            #expect(Base64URL.encode(device.publicKey) == key.publicKey)
            #expect(device.replicaID.hex == key.replica)
            #expect(Base64URL.decode(key.publicKey) == device.publicKey)
        }
    }

    @Test func everyCanonicalByteAndSignatureIsReproduced() throws {
        let vectors = try Self.load()
        #expect(vectors.changes.count == 3)
        let keys = try vectors.keys.map { try DeviceKey(seed: $0.seed) }
        for vector in vectors.changes {
            let change = try Change(json: vector.json)
            #expect(Self.hex(change.canonicalBytes()) == vector.canonicalHex)
            let key = try #require(keys.first { $0.replicaID == change.dot.replica })
            let signed = key.signed(change)
            #expect(signed.sig.map(Base64URL.encode) == vector.sig)
            #expect(SignatureCheck.isValid(signed, publicKey: key.publicKey))
            // The signature travels in the wire JSON and survives both decoders.
            let bytes = signed.encodedJSON()
            let decoded = try bytes.withUnsafeBufferPointer { try Change(jsonBytes: $0) }
            #expect(decoded.sig == signed.sig)
            #expect(try Change(json: signed.json).sig == signed.sig)
            #expect(bytes.withUnsafeBufferPointer { Change(wireBytes: $0) }?.sig == signed.sig)
        }
    }

    @Test func aTamperedByteFailsVerificationAndThePristineChangePasses() throws {
        let vectors = try Self.load()
        let key = try DeviceKey(seed: vectors.keys[0].seed)
        let change = key.signed(try Change(json: vectors.changes[0].json))
        #expect(SignatureCheck.isValid(change, publicKey: key.publicKey))  // positive control
        var altered = change
        altered.writes["killed"] = .int(4)
        #expect(!SignatureCheck.isValid(altered, publicKey: key.publicKey))
        var flipped = change
        flipped.sig![10] ^= 1
        #expect(!SignatureCheck.isValid(flipped, publicKey: key.publicKey))
        let other = try DeviceKey(seed: vectors.keys[1].seed)
        #expect(!SignatureCheck.isValid(change, publicKey: other.publicKey))
        // A latitude written as the integer 16 signs as the number 16.0: the model's type decides.
        var asInteger = try Change(json: vectors.changes[0].json)
        asInteger.writes["lat"] = .int(16)
        #expect(Self.hex(asInteger.canonicalBytes()) == vectors.changes[0].canonicalHex)
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode("6wywuGpa5ROI9aaI2eEbwngMSY4pTHEKpBkft-tSdAw=") == nil)
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("ab+/") == nil)
        #expect(Base64URL.decode("AA") == [0])
        #expect(Base64URL.decode("AB") == nil)  // leftover bits set: a second spelling of [0]
        for n in 0..<10 {
            let bytes = (0..<n).map { UInt8($0 * 37 & 255) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }
}
