// Ed25519 sign and verify, swift-crypto (Curve25519.Signing) beside libsodium
// (crypto_sign_detached / crypto_sign_verify_detached), for a message the size of a signed
// change (~300 bytes). Single-core µs/op, then both verifiers on every core over 20,000
// signatures. Checks first that the two agree. Release build: Tools/ed25519-bench/run.sh
// The machine is shared, so the variants are timed in interleaved rounds (each round times every
// variant once) and the table gives the best and the median round; ratios are the median of the
// per-round ratios, so load that comes and goes hits both libraries alike.
// `ed25519-bench count OP N` only runs OP N times (for valgrind's instruction counts).
import CSodium
import Crypto
import Dispatch
import Foundation

let messageSize = 300
let singleCoreOps = 3000
let rounds = 7
let parallelSignatures = 20_000

func fail(_ why: String) -> Never {
    FileHandle.standardError.write(Data("ed25519-bench: \(why)\n".utf8))
    exit(1)
}

/// A deterministic ~300-byte message whose first bytes carry `index`, so every signature differs.
func message(_ index: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: messageSize)
    var state = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15 &+ 1
    for i in bytes.indices {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[i] = UInt8(truncatingIfNeeded: state)
    }
    withUnsafeBytes(of: UInt64(index).bigEndian) { for (i, b) in $0.enumerated() { bytes[i] = b } }
    return bytes
}

guard sodium_init() >= 0 else { fail("sodium_init failed") }

// One key pair for both libraries: swift-crypto's raw private key is the 32-byte seed.
let cryptoKey = Curve25519.Signing.PrivateKey()
let seed = [UInt8](cryptoKey.rawRepresentation)
let cryptoPublic = cryptoKey.publicKey
var sodiumPublic = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
var sodiumSecret = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
guard crypto_sign_seed_keypair(&sodiumPublic, &sodiumSecret, seed) == 0 else {
    fail("crypto_sign_seed_keypair failed")
}
guard sodiumPublic == [UInt8](cryptoPublic.rawRepresentation) else {
    fail("the two libraries derive different public keys from one seed")
}
let sodiumPublicKey = sodiumPublic
let sodiumSecretKey = sodiumSecret

func cryptoSign(_ m: [UInt8]) -> [UInt8] {
    do { return [UInt8](try cryptoKey.signature(for: m)) } catch { fail("swift-crypto sign: \(error)") }
}
func cryptoVerify(_ s: [UInt8], _ m: [UInt8]) -> Bool {
    cryptoPublic.isValidSignature(s, for: m)
}
/// As the store would verify against a roster key held as bytes: the key is parsed on each call.
func cryptoVerifyRawKey(_ s: [UInt8], _ m: [UInt8]) -> Bool {
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: sodiumPublicKey) else { return false }
    return key.isValidSignature(s, for: m)
}
func sodiumSign(_ m: [UInt8]) -> [UInt8] {
    var s = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
    guard crypto_sign_detached(&s, nil, m, UInt64(m.count), sodiumSecretKey) == 0 else {
        fail("crypto_sign_detached failed")
    }
    return s
}
func sodiumVerify(_ s: [UInt8], _ m: [UInt8]) -> Bool {
    guard s.count == Int(crypto_sign_BYTES) else { return false }
    return crypto_sign_verify_detached(s, m, UInt64(m.count), sodiumPublicKey) == 0
}

// Agreement: cross-verification, and a tampered byte (message or signature) fails in both.
do {
    let m = message(7)
    let byCrypto = cryptoSign(m)
    let bySodium = sodiumSign(m)
    guard sodiumVerify(byCrypto, m) else { fail("libsodium rejects a swift-crypto signature") }
    guard cryptoVerify(bySodium, m) else { fail("swift-crypto rejects a libsodium signature") }
    var badMessage = m
    badMessage[123] ^= 0x01
    var badSignature = bySodium
    badSignature[40] ^= 0x80
    for (name, ok) in [
        ("swift-crypto, tampered message", cryptoVerify(byCrypto, badMessage)),
        ("libsodium, tampered message", sodiumVerify(byCrypto, badMessage)),
        ("swift-crypto, tampered signature", cryptoVerify(badSignature, m)),
        ("libsodium, tampered signature", sodiumVerify(badSignature, m)),
    ] where ok {
        fail("\(name) verified")
    }
    print(
        "agreement: cross-verify ok; tampered message and tampered signature fail in both;"
            + " signatures byte-identical: \(byCrypto == bySodium)")
}

/// A variant timed on one core: one operation on input `index`; false if a verify failed.
struct Variant {
    let name: String
    let run: (Int) -> Bool
}

let messages = (0..<singleCoreOps).map(message)
let cryptoSigs = messages.map(cryptoSign)
let sodiumSigs = messages.map(sodiumSign)
nonisolated(unsafe) var sink = 0  // main thread only; keeps the signing loops from being dropped
let variants = [
    Variant(name: "swift-crypto sign") {
        sink &+= Int(cryptoSign(messages[$0])[0]); return true
    },
    Variant(name: "libsodium sign") {
        sink &+= Int(sodiumSign(messages[$0])[0]); return true
    },
    Variant(name: "swift-crypto verify") { cryptoVerify(cryptoSigs[$0], messages[$0]) },
    Variant(name: "swift-crypto verify, key parsed") { cryptoVerifyRawKey(cryptoSigs[$0], messages[$0]) },
    Variant(name: "libsodium verify") { sodiumVerify(sodiumSigs[$0], messages[$0]) },
]

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "count", let n = Int(arguments[3]) {
    guard let variant = variants.first(where: { $0.name == arguments[2] }) else {
        fail("no variant \(arguments[2]); one of: \(variants.map(\.name))")
    }
    for i in 0..<n where !variant.run(i % singleCoreOps) { fail("\(variant.name) failed") }
    exit(0)
}

// Single core: every round times each variant over `singleCoreOps` inputs, in rotating order.
let clock = ContinuousClock()
for variant in variants { for i in 0..<(singleCoreOps / 10) where !variant.run(i) { fail("\(variant.name) failed") } }
var micros = [[Double]](repeating: [], count: variants.count)
for round in 0..<rounds {
    for k in 0..<variants.count {
        let v = (k + round) % variants.count
        var ok = true
        let elapsed = clock.measure { for i in 0..<singleCoreOps where !variants[v].run(i) { ok = false } }
        guard ok else { fail("\(variants[v].name) failed") }
        micros[v].append(seconds(elapsed) * 1e6 / Double(singleCoreOps))
    }
}

// Every core: 20,000 distinct signed messages, chunked over concurrentPerform.
let cores = ProcessInfo.processInfo.activeProcessorCount
let bigMessages = (0..<parallelSignatures).map(message)
let bigSigs = bigMessages.map(sodiumSign)

/// One slot per chunk; safe to share because each concurrentPerform iteration writes only its own
/// index and the buffer is read after concurrentPerform returns.
struct ChunkResults: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<Int>
}

/// Verifies all 20,000 on every core once; ops/s.
func parallelRun(_ verify: @Sendable ([UInt8], [UInt8]) -> Bool) -> Double {
    let chunks = cores * 8
    let results = ChunkResults(slots: .allocate(capacity: chunks))
    results.slots.initialize(repeating: 0)
    defer { results.slots.deallocate() }
    let elapsed = clock.measure {
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var ok = 0
            var i = chunk
            while i < parallelSignatures {
                if verify(bigSigs[i], bigMessages[i]) { ok += 1 }
                i += chunks
            }
            results.slots[chunk] = ok
        }
    }
    guard results.slots.reduce(0, +) == parallelSignatures else {
        fail("parallel verify rejected a valid signature")
    }
    return Double(parallelSignatures) / seconds(elapsed)
}
var cryptoParallel: [Double] = []
var sodiumParallel: [Double] = []
for round in 0..<rounds {
    if round % 2 == 0 {
        cryptoParallel.append(parallelRun(cryptoVerify))
        sodiumParallel.append(parallelRun(sodiumVerify))
    } else {
        sodiumParallel.append(parallelRun(sodiumVerify))
        cryptoParallel.append(parallelRun(cryptoVerify))
    }
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
func ratio(_ a: [Double], _ b: [Double]) -> Double { median(zip(a, b).map { $0 / $1 }) }
func column(_ text: String) -> String { text.padding(toLength: 35, withPad: " ", startingAt: 0) }

print(
    "Ed25519, \(messageSize)-byte message, libsodium \(String(cString: sodium_version_string())),"
        + " \(rounds) interleaved rounds")
print("single core, \(singleCoreOps) ops a round      best µs/op  median µs/op   best ops/s")
for (v, variant) in variants.enumerated() {
    let best = micros[v].min()!
    print(column("  " + variant.name) + String(format: "%10.1f %13.1f %12.0f", best, median(micros[v]), 1e6 / best))
}
print("every core (\(cores)), \(parallelSignatures) signatures         best ops/s  median ops/s")
print(column("  swift-crypto verify") + String(format: "%10.0f %13.0f", cryptoParallel.max()!, median(cryptoParallel)))
print(column("  libsodium verify") + String(format: "%10.0f %13.0f", sodiumParallel.max()!, median(sodiumParallel)))
print(
    String(
        format: "libsodium vs swift-crypto (median per-round ratio): sign %.2fx, verify %.2fx,"
            + " verify vs key parsed %.2fx, every-core verify %.2fx",
        ratio(micros[0], micros[1]), ratio(micros[2], micros[4]), ratio(micros[3], micros[4]),
        ratio(sodiumParallel, cryptoParallel)))
if sink == 42 { print("") }
