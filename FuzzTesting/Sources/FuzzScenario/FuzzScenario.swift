import FuzzSupport
import OutpostCore
import OutpostSync

/// Scenario files, parsed and checked (`Scenario.parse`), never run. An accepted scenario keeps
/// the bounds: its record ids follow the id rule, its clocks lie in the `ms` range, and the
/// fields it writes keep their UTF-8 byte limits.
@main
enum FuzzScenario {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    guard let scenario = try? Scenario.parse(Array(input), file: "fuzz.json"), SpecBounds.enabled else { return 0 }
    for (i, step) in scenario.steps.enumerated() {
        guard case .edit(_, let clockMs, let edit) = step else { continue }
        if let clockMs, !(0...SpecBounds.maxMs).contains(clockMs) {
            FuzzInput.fail("scenario step \(i + 1): clock \(clockMs) ms is out of the ms range", input: input)
        }
        if !SpecBounds.isValidRecordID(edit.id) {
            FuzzInput.fail("scenario step \(i + 1): record id \(SpecBounds.debugText(edit.id)) breaks the id rule", input: input)
        }
        switch edit {
        case .create(_, let fields), .update(_, let fields):
            if let problem = SpecBounds.textViolation(in: fields) {
                FuzzInput.fail("scenario step \(i + 1): \(problem)", input: input)
            }
        case .delete, .restore: break
        }
    }
    return 0
}
