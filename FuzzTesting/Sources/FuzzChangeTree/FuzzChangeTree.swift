import FuzzSupport
import OutpostCore

/// Change JSON through the tree path: `Change(json: JSONParser.parse(bytes))`. An accepted change
/// must survive its own encoding (`encodedJSON()`, the same bytes as `json`) and keep the bounds.
@main
enum FuzzChangeTree {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    guard let json = try? JSONParser.parse(input), let change = try? Change(json: json) else { return 0 }
    let encoded = change.encodedJSON()
    if encoded != change.json.serializedBytes() {
        FuzzInput.fail("encodedJSON() and json.serializedBytes() differ for an accepted change", input: input)
    }
    let again: Change
    do { again = try Change(json: try JSONParser.parse(encoded)) } catch {
        FuzzInput.fail("the tree path refuses its own encoding of an accepted change: \(error)", input: input)
    }
    if again != change { FuzzInput.fail("an accepted change changes on a round trip through its encoding", input: input) }
    if SpecBounds.enabled, let problem = SpecBounds.violation(of: change, wire: json) {
        FuzzInput.fail("the tree path accepted a change past the bounds: \(problem)", input: input)
    }
    return 0
}
