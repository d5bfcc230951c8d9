import FuzzSupport
import OutpostCore
import OutpostSync

/// Scenario files, parsed and checked (`Scenario.parse`), never run.
@main
enum FuzzScenario {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    _ = try? Scenario.parse(Array(input), file: "fuzz.json")
    return 0
}
