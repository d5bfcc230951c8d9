import FuzzSupport
import OutpostCore

/// Change JSON through the fast path, `Change(wireBytes:)`, and the two-step reader the bundle
/// and import code use, `Change(jsonBytes:)`. An accepted change must survive its own encoding
/// and keep the bounds.
@main
enum FuzzChangeWire {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    _ = try? Change(jsonBytes: input)
    guard let change = Change(wireBytes: input) else { return 0 }
    let encoded = change.encodedJSON()
    let again = encoded.withUnsafeBufferPointer { Change(wireBytes: $0) }
    guard let again else { FuzzInput.fail("the fast path refuses its own encoding of an accepted change", input: input) }
    if again != change { FuzzInput.fail("an accepted change changes on a round trip through its encoding", input: input) }
    if SpecBounds.enabled, let problem = SpecBounds.violation(of: change, wire: try? JSONParser.parse(input)) {
        FuzzInput.fail("the fast path accepted a change past the bounds: \(problem)", input: input)
    }
    return 0
}
