import FuzzSupport
import OutpostCore

/// The fast path and the tree path side by side. The fast path may decline (nil) what it leaves
/// to the tree path, but whatever it accepts the tree path must accept as the same change;
/// `Change(jsonBytes:)` (fast, then tree) must accept and refuse exactly what the tree path does,
/// with the same change; and the fast path must accept every change as the encoder writes it.
@main
enum FuzzChangeDifferential {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    var treeError = ""
    let tree: Change?
    do { tree = try Change(json: try JSONParser.parse(input)) } catch {
        tree = nil
        treeError = "\(error)"
    }
    let fast = Change(wireBytes: input)
    let combined = try? Change(jsonBytes: input)
    if let fast {
        guard let tree else {
            FuzzInput.fail("the fast path accepted a change the tree path refuses (\(treeError))", input: input)
        }
        if fast != tree {
            FuzzInput.fail("the fast and tree paths read different changes: \(describe(fast, tree))", input: input)
        }
    }
    switch (combined, tree) {
    case (let combined?, let tree?) where combined != tree:
        FuzzInput.fail(
            "two tree-path reads of the same bytes give different changes (order-dependent decoding): \(describe(combined, tree))",
            input: input)
    case (nil, _?): FuzzInput.fail("Change(jsonBytes:) refuses a change the tree path accepts", input: input)
    case (_?, nil): FuzzInput.fail("Change(jsonBytes:) accepts a change the tree path refuses (\(treeError))", input: input)
    default: break
    }
    if let tree {
        let canonical = tree.encodedJSON()
        guard let reread = canonical.withUnsafeBufferPointer({ Change(wireBytes: $0) }) else {
            FuzzInput.fail("the fast path declines the encoder's own bytes of an accepted change", input: input)
        }
        if reread != tree {
            FuzzInput.fail("the fast path misreads the encoder's own bytes: \(describe(reread, tree))", input: input)
        }
    }
    return 0
}

/// Which parts of two changes differ.
private func describe(_ a: Change, _ b: Change) -> String {
    var parts: [String] = []
    if a.dot != b.dot { parts.append("dot \(a.dot) vs \(b.dot)") }
    if a.record != b.record { parts.append("record \(a.record) vs \(b.record)") }
    if a.deps != b.deps { parts.append("deps \(a.deps.json.serialized()) vs \(b.deps.json.serialized())") }
    if a.tag != b.tag { parts.append("tag \(a.tag) vs \(b.tag)") }
    if a.writes != b.writes {
        parts.append("writes \(JSONValue.object(a.writes).serialized()) vs \(JSONValue.object(b.writes).serialized())")
    }
    if a.reporter != b.reporter { parts.append("reporter \(a.reporter ?? "nil") vs \(b.reporter ?? "nil")") }
    return parts.joined(separator: "; ")
}
