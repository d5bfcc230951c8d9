import Crypto
import FuzzSupport
import OutpostCore
import OutpostSync

/// Bundle files, read whole by `BundleFile.decode`. Each input is read twice: as a file as it
/// is (gzip, checksum and all), and as the text inside a file (header line, one change per line),
/// which the target seals with a correct checksum and compresses first, so that the fuzzer
/// reaches the header and change lines instead of stopping at the checksum. Accepted changes keep
/// the bounds.
@main
enum FuzzBundle {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    let file = Array(input)
    if let contents = try? BundleFile.decode(file) { check(contents, lines: nil, input: input) }
    guard !Gzip.isGzip(file) else { return 0 }
    var body = file
    if body.last != 0x0A { body.append(0x0A) }
    var sealed = body
    let digest = SHA256.hash(data: body).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    JSONValue.object(["sha256": .string(digest)]).write(to: &sealed)
    sealed.append(0x0A)
    guard let compressed = try? Gzip.compress(sealed, level: 1) else {
        FuzzInput.fail("cannot gzip a sealed bundle body", input: input)
    }
    do {
        check(
            try BundleFile.decode(compressed), lines: body.split(separator: 0x0A, omittingEmptySubsequences: false), input: input)
    } catch {
        if error.message.contains("checksum") {
            FuzzInput.fail("a correctly sealed bundle fails its checksum: \(error)", input: input)
        }
    }
    return 0
}

/// The bounds, on every change of an accepted bundle; `lines` are the text's lines when known.
private func check(_ contents: BundleContents, lines: [ArraySlice<UInt8>]?, input: UnsafeBufferPointer<UInt8>) {
    guard SpecBounds.enabled, case .changes(let changes) = contents else { return }
    for (i, change) in changes.enumerated() {
        let wire = lines.flatMap { i + 1 < $0.count ? try? JSONParser.parse(Array($0[i + 1])) : nil }
        if let problem = SpecBounds.violation(of: change, wire: wire) {
            FuzzInput.fail("an accepted bundle's change \(i + 1) is past the bounds: \(problem)", input: input)
        }
    }
}
