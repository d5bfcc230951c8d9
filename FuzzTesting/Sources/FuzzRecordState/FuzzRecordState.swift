import FuzzSupport
import OutpostCore

/// The compact stored record state, `RecordState(binary:numbering:)`, with a fixed numbering of
/// four replicas. A state that decodes must survive its own encoding, and what the store does
/// with a state it read (its visible fields, their JSON, conflicts, times as text) must not trap,
/// even for values past the bounds that an older version may have stored.
@main
enum FuzzRecordState {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    let numbering = FixedNumbering()
    guard let state = try? RecordState(binary: input, numbering: numbering) else { return 0 }
    let encoded: [UInt8]
    do { encoded = try state.encodedBinary(numbering: numbering) } catch {
        FuzzInput.fail("a decoded record state cannot be encoded again: \(error)", input: input)
    }
    let again: RecordState
    do { again = try encoded.withUnsafeBufferPointer { try RecordState(binary: $0, numbering: numbering) } } catch {
        FuzzInput.fail("a record state refuses its own encoding: \(error)", input: input)
    }
    // A stored double may be NaN (never from JSON, but any 8 bytes decode; its JSON shows null),
    // and NaN != NaN: such states are not compared.
    if again != state && !holdsNaN(state) {
        FuzzInput.fail("a record state changes on a round trip through its encoding", input: input)
    }
    var out: [UInt8] = []
    state.writeVisibleJSON(to: &out)
    _ = state.visibleFields
    _ = state.conflicts
    _ = state.isDeleted
    if SpecBounds.enabled {
        // Issue 10: formatting stored values never traps, whatever an older version stored.
        for siblings in state.fields.values {
            for sibling in siblings { _ = DateText.rfc3339(epochMilliseconds: sibling.tag.ms) }
        }
    }
    return 0
}

/// Whether any value in the state is a NaN.
private func holdsNaN(_ state: RecordState) -> Bool {
    state.fields.values.contains { $0.contains { if case .double(let d) = $0.value { d.isNaN } else { false } } }
}
