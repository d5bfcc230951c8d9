import OutpostCore

/// Decodes a well-formed, valid sync request with its changes parsed and checked on every core.
///
/// The body is scanned once for the byte range of each element of the top-level `changes` array;
/// the rest of the request (with `"changes":[]`) is decoded as usual, and the elements are parsed,
/// decoded and validated in two halves at once. Whatever is not plainly a valid request (a scan or
/// parse failure, a bad or invalid change, too many changes, a key written with escapes, a second
/// `changes` key) gives nil: the caller then decodes the body whole, which names the exact problem,
/// so both paths accept the same requests and refuse the others with the same errors.
public enum SyncRequestDecoder {
    /// Fewer changes than this are decoded on the calling task alone.
    static let parallelThreshold = 64

    /// The request, its changes decoded and valid; nil when the caller must decode it whole.
    public static func decodeValid(_ body: [UInt8], maxChanges: Int) async -> ServerSyncRequest? {
        guard let (message, elements) = decodeOutline(body, maxChanges: maxChanges) else { return nil }
        let changes: [Change]?
        if elements.count < parallelThreshold {
            changes = decode(body, elements[...])
        } else {
            let middle = elements.count / 2
            async let first = decode(body, elements[..<middle])
            let second = decode(body, elements[middle...])
            let head = await first
            if let head, let second { changes = head + second } else { changes = nil }
        }
        return changes.map { message.with(changes: $0) }
    }

    /// `decodeValid` on the calling thread alone (the same result; for fuzzing and tools).
    public static func decodeValidSerially(_ body: [UInt8], maxChanges: Int) -> ServerSyncRequest? {
        guard let (message, elements) = decodeOutline(body, maxChanges: maxChanges),
            let changes = decode(body, elements[...])
        else { return nil }
        return message.with(changes: changes)
    }

    /// The request without its changes, and the byte range of each element of `changes`.
    private static func decodeOutline(_ body: [UInt8], maxChanges: Int) -> (ServerSyncRequest, [Range<Int>])? {
        guard let split = body.withUnsafeBufferPointer({ ChangesSplitter.split($0) }) else { return nil }
        guard split.elements.count <= min(maxChanges, ServerSyncRequest.maxChanges) else { return nil }
        var header = Array(body[..<split.array.lowerBound])
        header.reserveCapacity(header.count + 2 + body.count - split.array.upperBound)
        header.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "]")])
        header.append(contentsOf: body[split.array.upperBound...])
        guard let json = try? JSONParser.parse(header), let message = try? ServerSyncRequest.decode(json) else { return nil }
        return (message, split.elements)
    }

    /// Parses, decodes and validates the changes at `ranges`; nil at the first that fails.
    static func decode(_ body: [UInt8], _ ranges: ArraySlice<Range<Int>>) -> [Change]? {
        body.withUnsafeBufferPointer { buffer -> [Change]? in
            var out: [Change] = []
            out.reserveCapacity(ranges.count)
            for range in ranges {
                guard let change = Change(wireBytes: UnsafeBufferPointer(rebasing: buffer[range])) else { return nil }
                do { try IncidentSchema.validate(writes: change.writes) } catch { return nil }
                out.append(change)
            }
            return out
        }
    }
}

extension ServerSyncRequest {
    /// This request with `changes` in place of its own.
    fileprivate func with(changes: [Change]) -> ServerSyncRequest {
        var copy = self
        copy.changes = changes
        return copy
    }
}
