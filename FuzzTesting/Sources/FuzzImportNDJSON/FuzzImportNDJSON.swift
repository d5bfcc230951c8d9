import FuzzSupport
import OutpostCLI
import OutpostCore
import OutpostStore

/// NDJSON import files (`IncidentImporter.parse(_:format: .ndjson)`). Also: the file read in two
/// halves at once must give what one read gives; a one-line file's row must come out of the
/// fast row reader as out of the general path (`JSONParser` and `input(fromJSON:)`); and rows
/// that are accepted keep the id rule and the UTF-8 byte limits.
@main
enum FuzzImportNDJSON {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    let result = IncidentImporter.parse(Array(input), format: .ndjson)

    let whole = IncidentImporter.parseNDJSON(input, parallelFrom: .max)
    let halves = IncidentImporter.parseNDJSON(input, parallelFrom: 1)
    if let difference = firstDifference(rows: whole.rows, halves.rows, problems: whole.problems, halves.problems) {
        FuzzInput.fail("NDJSON read in two halves differs from one read: \(difference)", input: input)
    }

    // One line of a single object: the fast reader (with the general path behind it) against the
    // general path alone.
    var first = 0
    while first < input.count, [0x20, 0x09, 0x0D].contains(input[first]) { first += 1 }
    if first < input.count, input[first] == UInt8(ascii: "{"), !input.contains(0x0A) {
        let general: IncidentInput?
        if let value = try? JSONParser.parse(input), case .success(let row) = IncidentImporter.input(fromJSON: value) {
            general = row
        } else {
            general = nil
        }
        let fast = whole.rows.first?.input
        if fast != general {
            FuzzInput.fail(
                "the NDJSON row reader and the general path disagree: \(fast.map { "\($0)" } ?? "refused (\(whole.problems))") vs \(general.map { "\($0)" } ?? "refused")",
                input: input)
        }
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
