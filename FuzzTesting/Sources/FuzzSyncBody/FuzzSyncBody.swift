import FuzzSupport
import OutpostCore
import OutpostSync

/// Sync bodies: a request as the server reads it (`ServerSyncRequest.decode`) and a response as
/// the client reads it (`ServerSyncResponse.decode`), from the same parsed JSON. Whatever is
/// accepted must survive its own encoding, and its changes keep the bounds.
///
/// The server's fast decoder (`SyncRequestDecoder`, which splits the `changes` array without a
/// tree) must agree with the tree path: whatever it accepts, the tree path accepts as the same
/// request with every change valid.
@main
enum FuzzSyncBody {
    static func main() { FuzzInput.run(fuzzOne) }
}

/// One input (also under libFuzzer's own name, which its runtime's unused `main` refers to).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput.bytes(start, count)
    let fast = SyncRequestDecoder.decodeValidSerially(Array(input), maxChanges: ServerSyncRequest.maxChanges)
    guard let json = try? JSONParser.parse(input) else {
        if fast != nil { FuzzInput.fail("the fast sync decoder accepted a body the JSON parser refuses", input: input) }
        return 0
    }
    if let fast {
        guard let tree = try? ServerSyncRequest.decode(json) else {
            FuzzInput.fail("the fast sync decoder accepted a request the tree path refuses", input: input)
        }
        if tree != fast { FuzzInput.fail("the fast sync decoder and the tree path read different requests", input: input) }
        for change in tree.changes where (try? IncidentSchema.validate(writes: change.writes)) == nil {
            FuzzInput.fail("the fast sync decoder accepted a change whose writes are invalid", input: input)
        }
    }
    if let request = try? ServerSyncRequest.decode(json) {
        let again: ServerSyncRequest
        do { again = try ServerSyncRequest.decode(try JSONParser.parse(request.encoded())) } catch {
            FuzzInput.fail("a decoded sync request refuses its own encoding: \(error)", input: input)
        }
        if again != request { FuzzInput.fail("a sync request changes on a round trip through its encoding", input: input) }
        if SpecBounds.enabled {
            let wires = json["changes"]?.arrayValue ?? []
            for (i, change) in request.changes.enumerated() {
                if let problem = SpecBounds.violation(of: change, wire: i < wires.count ? wires[i] : nil) {
                    FuzzInput.fail("a sync request's changes[\(i)] is past the bounds: \(problem)", input: input)
                }
            }
            if !SpecBounds.isLowercaseHex(json["replica"]?.stringValue ?? "") {
                FuzzInput.fail("a sync request's replica is not lowercase hex", input: input)
            }
        }
    }
    if let response = try? ServerSyncResponse.decode(json) {
        let again: ServerSyncResponse
        do { again = try ServerSyncResponse.decode(try JSONParser.parse(response.encoded())) } catch {
            FuzzInput.fail("a decoded sync response refuses its own encoding: \(error)", input: input)
        }
        if again != response { FuzzInput.fail("a sync response changes on a round trip through its encoding", input: input) }
        if SpecBounds.enabled {
            for (i, change) in response.changes.enumerated() {
                if let problem = SpecBounds.violation(of: change) {
                    FuzzInput.fail("a sync response's changes[\(i)] is past the bounds: \(problem)", input: input)
                }
            }
        }
    }
    return 0
}
