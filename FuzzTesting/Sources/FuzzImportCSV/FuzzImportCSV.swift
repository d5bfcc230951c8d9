import FuzzSupport
import OutpostCLI
import OutpostCore
import OutpostStore

/// CSV import files (`IncidentImporter.parse(_:format: .csv)`). Also: the file read in two halves
/// at once must give what one read gives, and rows that are accepted keep the id rule and the
/// UTF-8 byte limits.
@main
enum FuzzImportCSV {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    let result = IncidentImporter.parse(Array(input), format: .csv)

    let whole = IncidentImporter.parseCSV(input, parallelFrom: .max)
    let halves = IncidentImporter.parseCSV(input, parallelFrom: 1)
    if let difference = firstDifference(rows: whole.rows, halves.rows, problems: whole.problems, halves.problems) {
        FuzzInput.fail("CSV read in two halves differs from one read: \(difference)", input: input)
    }

    if SpecBounds.enabled {
        for row in result.rows {
            if let id = row.input.id, !SpecBounds.isValidRecordID(id) {
                FuzzInput.fail("an imported row's id \(SpecBounds.debugText(id)) breaks the id rule", input: input)
            }
            if let problem = SpecBounds.textViolation(in: row.input.fields) {
                FuzzInput.fail("an imported row is past a limit: \(problem)", input: input)
            }
        }
    }
    return 0
}
