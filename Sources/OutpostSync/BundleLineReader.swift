import Crypto
import OutpostCore
import OutpostStore

/// Takes a bundle apart line by line as it is inflated: the header first, then each body line
/// (hashed, and decoded at once for a bundle of changes), keeping one whole line back because the
/// last one is the checksum trailer. Errors about content wait until the checksum has been
/// checked, so an altered file is reported as altered; bounds (line length, line count) stop at once.
struct BundleLineReader {
    private var partial: [UInt8] = []
    /// The last whole line, not yet known to be a body line or the trailer.
    private var held: [UInt8]?
    private var hasher = SHA256()
    private var lineCount = 0
    private var expectedLines: Int64?
    private var kind: String?
    private var changes: [Change] = []
    private var summaryLine: [UInt8]?
    /// SHA-256 over the header and summary lines (what a summary's signature covers).
    private var summaryHasher = SHA256()
    /// The signature line of a signed summary (`{"summary_sig": b64u}`), when there is one.
    private(set) var summarySignature: [UInt8]?
    /// Lines that are a summary's signature (not counted in the header's `count`).
    private var signatureLines = 0
    /// The first content error, thrown after the checksum is checked.
    private var deferred: BundleError?
    /// The header, once read (read its extra members only after `contents()` succeeded).
    private(set) var header: JSONValue?

    /// Takes the next inflated bytes.
    mutating func take(_ bytes: [UInt8]) throws(BundleError) {
        var start = 0
        try bytes.withUnsafeBufferPointer { buffer throws(BundleError) in
            while start < buffer.count {
                let end = LineFeeds.next(in: buffer, from: start)
                guard partial.count + (end - start) <= BundleFile.maxLineBytes else {
                    throw BundleError("the bundle has a line longer than \(BundleFile.maxLineBytes) bytes; refused")
                }
                if end == buffer.count {
                    partial.append(contentsOf: buffer[start..<end])
                    break
                }
                var line = partial
                partial = []
                line.append(contentsOf: buffer[start..<end])
                try complete(line)
                start = end + 1
            }
        }
    }

    private mutating func complete(_ line: [UInt8]) throws(BundleError) {
        if let previous = held { try body(previous) }
        held = line
    }

    /// A line known not to be the trailer: the header or a body line.
    private mutating func body(_ line: [UInt8]) throws(BundleError) {
        hasher.update(data: line)
        hasher.update(data: [0x0A])
        lineCount += 1
        if lineCount == 1 {
            summaryHasher.update(data: line)
            summaryHasher.update(data: [0x0A])
            readHeader(line)
            return
        }
        if kind == "summary", summaryLine != nil, signatureLines == 0, let signature = Self.summarySignature(in: line) {
            summarySignature = signature
            signatureLines = 1
            return
        }
        if let expectedLines, Int64(lineCount - 1 - signatureLines) > expectedLines {
            throw BundleError("the bundle's line count does not match its header")
        }
        guard deferred == nil else { return }
        switch kind {
        case "changes"?:
            do {
                let change = try line.withUnsafeBufferPointer { try Change(jsonBytes: $0) }
                changes.append(change)
            } catch {
                deferred = BundleError("bundle change \(lineCount - 1): \(error)")
            }
        case "summary"?:
            if summaryLine == nil {
                summaryLine = line
                summaryHasher.update(data: line)
                summaryHasher.update(data: [0x0A])
            } else {
                deferred = BundleError("a summary file holds exactly one summary")
            }
        default:
            break
        }
    }

    /// The signature a `{"summary_sig": b64u}` line holds; nil for any other line.
    private static func summarySignature(in line: [UInt8]) -> [UInt8]? {
        guard line.count < 256, let json = try? JSONParser.parse(line), case .object(let o) = json, o.count == 1,
            case .string(let text)? = o["summary_sig"], let signature = Base64URL.decode(text)
        else { return nil }
        return signature
    }

    /// SHA-256 of the header and summary lines, once a summary file has been read.
    var summaryDigest: [UInt8] { Array(summaryHasher.finalize()) }

    private mutating func readHeader(_ line: [UInt8]) {
        let json: JSONValue
        do { json = try JSONParser.parse(line) } catch {
            deferred = BundleError("bundle header: \(error)")
            return
        }
        header = json
        guard json["format"] == .string(BundleFile.format) else {
            deferred = BundleError("not an Outpost bundle (format is not \(BundleFile.format))")
            return
        }
        guard case .int(let v)? = json["version"] else {
            deferred = BundleError("bundle header has no version")
            return
        }
        guard v <= BundleFile.version else {
            deferred = BundleError(
                "the bundle is format version \(v); this Outpost reads up to \(BundleFile.version): upgrade to apply it")
            return
        }
        guard case .int(let count)? = json["count"], count >= 0 else {
            deferred = BundleError("the bundle's line count does not match its header")
            return
        }
        expectedLines = count
        switch json["kind"] {
        case .string("changes")?:
            kind = "changes"
            changes.reserveCapacity(Int(min(count, 1 << 16)))
        case .string("summary")?:
            kind = "summary"
        default:
            deferred = BundleError("unknown bundle kind \(json["kind"]?.serialized() ?? "(none)")")
        }
    }

    /// The contents, once every byte has been taken: checks the trailer, then the content.
    mutating func contents() throws(BundleError) -> BundleContents {
        guard partial.isEmpty else { throw BundleError("the bundle is truncated (no final line)") }
        guard let trailer = held, lineCount >= 1 else { throw BundleError("the bundle is truncated") }
        guard let trailerJSON = try? JSONParser.parse(trailer), case .string(let expected)? = trailerJSON["sha256"] else {
            throw BundleError("the bundle is truncated or altered (no checksum line)")
        }
        let actual = hasher.finalize().map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        guard actual == expected else { throw BundleError("the bundle was altered or damaged (checksum mismatch)") }
        if let deferred { throw deferred }
        guard let expectedLines, expectedLines == Int64(lineCount - 1 - signatureLines) else {
            throw BundleError("the bundle's line count does not match its header")
        }
        switch kind {
        case "changes"?:
            return .changes(changes)
        default:
            guard let summaryLine, lineCount == 2 + signatureLines else {
                throw BundleError("a summary file holds exactly one summary")
            }
            do { return .summary(try SyncSummary(json: try JSONParser.parse(summaryLine))) } catch {
                throw BundleError("summary: \(error)")
            }
        }
    }
}
