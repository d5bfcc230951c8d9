import Crypto
import Foundation
import OutpostCore
import OutpostStore

/// A bundle or summary file that cannot be used, with the reason.
public struct BundleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why the file was refused.
    public var message: String

    /// Makes an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The contents of a checked bundle or summary file.
public enum BundleContents: Hashable, Sendable {
    /// Changes for a peer to apply.
    case changes([Change])
    /// What a store holds, for a peer to build a bundle of what it lacks.
    case summary(SyncSummary)
}

/// The file a reporter carries between peers with no network: self-describing, versioned, checked whole.
///
/// Layout (gzip-compressed UTF-8 lines): a header object
/// `{"format": "outpost-bundle", "version": 1, "kind": "changes"|"summary", "replica", "reporter", "created_at", "count"}`
/// (a bundle of changes adds `"roster_key": b64u` and `"roster": [entry…]`, the roster entries the
/// server signed, so a device that never reached the server can verify the changes),
/// then one change per line (or the summary object), then `{"sha256": hex}` over every byte before that line.
public enum BundleFile {
    /// The format name in the header.
    public static let format = "outpost-bundle"
    /// The newest format version this build writes and reads.
    public static let version: Int64 = 1
    /// The largest uncompressed bundle accepted.
    public static let maxBytes = 1 << 30

    /// Encodes changes (wire-format JSON) as a bundle file, with the roster entries the server
    /// signed and the server's roster key (which the receiver never pins from a bundle).
    public static func encode(
        changes: [StoredChange], replica: ReplicaID, reporter: String, createdMs: Int64, roster: [RosterEntry] = [],
        rosterKey: [UInt8]? = nil
    ) throws(BundleError) -> [UInt8] {
        var extra: [String: JSONValue] = ["roster": .array(roster.filter { $0.sig != nil }.map(\.json))]
        if let rosterKey { extra["roster_key"] = .string(Base64URL.encode(rosterKey)) }
        var body = header(
            kind: "changes", replica: replica, reporter: reporter, createdMs: createdMs, count: changes.count, extra: extra)
        for change in changes {
            body.append(contentsOf: change.body)
            body.append(0x0A)
        }
        return try seal(body)
    }

    /// Encodes a summary as a summary file.
    public static func encode(summary: SyncSummary, replica: ReplicaID, reporter: String, createdMs: Int64) throws(BundleError)
        -> [UInt8]
    {
        var body = header(kind: "summary", replica: replica, reporter: reporter, createdMs: createdMs, count: 1)
        summary.json.write(to: &body)
        body.append(0x0A)
        return try seal(body)
    }

    private static func header(
        kind: String, replica: ReplicaID, reporter: String, createdMs: Int64, count: Int, extra: [String: JSONValue] = [:]
    ) -> [UInt8] {
        var members: [String: JSONValue] = [
            "format": .string(format), "version": .int(version), "kind": .string(kind), "replica": .string(replica.hex),
            "reporter": .string(reporter), "created_at": .string(DateText.rfc3339(epochMilliseconds: createdMs)),
            "count": .int(Int64(count)),
        ]
        members.merge(extra) { old, _ in old }
        var out = JSONValue.object(members).serializedBytes()
        out.append(0x0A)
        return out
    }

    private static func seal(_ body: [UInt8]) throws(BundleError) -> [UInt8] {
        var out = body
        JSONValue.object(["sha256": .string(hex(SHA256.hash(data: body)))]).write(to: &out)
        out.append(0x0A)
        do { return try Gzip.compress(out) } catch { throw BundleError("cannot compress the bundle: \(error.message)") }
    }

    /// Checks a whole file (compression, checksum, header, every line) and returns its contents.
    ///
    /// The file is inflated a slice at a time and taken apart line by line as it goes, so a
    /// compression bomb is refused at the first sign (a line longer than `maxLineBytes`, more lines
    /// than the header counts, or `maxBytes` in all) without holding its expansion.
    public static func decode(_ file: [UInt8], maxBytes: Int = maxBytes) throws(BundleError) -> BundleContents {
        try read(file, maxBytes: maxBytes).contents
    }

    /// Checks a whole bundle of changes as `decode` does and returns its changes with the roster
    /// its header carries (a malformed roster entry refuses the bundle; whether an entry's
    /// signature holds is for the receiving store to check).
    public static func decodeChanges(_ file: [UInt8], maxBytes: Int = maxBytes) throws(BundleError) -> ChangeBundle {
        let (contents, header) = try read(file, maxBytes: maxBytes)
        guard case .changes(let changes) = contents else { throw BundleError("this is a summary file, not a bundle of changes") }
        var bundle = ChangeBundle(changes: changes)
        switch header?["roster_key"] {
        case .string(let text)?:
            guard let key = Base64URL.decode(text), key.count == 32 else {
                throw BundleError("bundle header: roster_key must be a 32-byte Ed25519 public key in unpadded base64url")
            }
            bundle.rosterKey = key
        case nil, .null?: break
        default: throw BundleError("bundle header: roster_key must be a 32-byte Ed25519 public key in unpadded base64url")
        }
        switch header?["roster"] {
        case .array(let items)?:
            for (i, item) in items.enumerated() {
                do { bundle.roster.append(try RosterEntry(json: item)) } catch {
                    throw BundleError("bundle header: roster[\(i)]: \(error.message)")
                }
            }
        case nil, .null?: break
        default: throw BundleError("bundle header: roster must be an array")
        }
        return bundle
    }

    /// Checks a whole file and returns its contents and header.
    private static func read(_ file: [UInt8], maxBytes: Int) throws(BundleError) -> (contents: BundleContents, header: JSONValue?)
    {
        guard Gzip.isGzip(file) else { throw BundleError("not an Outpost bundle (the file is not gzip-compressed)") }
        let inflater: Gzip.Inflater
        do { inflater = try Gzip.Inflater(maxOutput: maxBytes) } catch { throw BundleError(error.message) }
        var reader = BundleLineReader()
        var offset = 0
        repeat {
            let end = min(file.count, offset + inflateSlice)
            do {
                try file.withUnsafeBufferPointer { buffer throws(GzipError) in
                    try inflater.feed(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[offset..<end])))
                }
            } catch {
                if error.isTooLarge {
                    throw BundleError(
                        "the bundle expands to more than \(maxBytes) bytes; refused (a damaged file or a compression bomb)")
                }
                throw BundleError("the bundle is damaged: \(error.message)")
            }
            try reader.take(inflater.takeOutput())
            offset = end
        } while offset < file.count && !inflater.isEnded
        let rest: [UInt8]
        do { rest = try inflater.finish() } catch { throw BundleError("the bundle is damaged: \(error.message)") }
        try reader.take(rest)
        let contents = try reader.contents()
        return (contents, reader.header)
    }

    /// Compressed bytes inflated at a time: deflate expands at most about 1,032 times, so one
    /// slice makes at most about 16 MB before its lines are checked.
    static let inflateSlice = 16 << 10

    /// The longest line a bundle may hold (a header, a change or a summary).
    public static let maxLineBytes = 16 << 20

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

/// A checked bundle of changes with the roster its header carries.
public struct ChangeBundle: Hashable, Sendable {
    /// The changes, in the sender's log order.
    public var changes: [Change]
    /// Roster entries the sender holds with the server's signature.
    public var roster: [RosterEntry] = []
    /// The server roster key the sender pinned (informative: a receiver never pins it from a bundle).
    public var rosterKey: [UInt8]?

    /// Makes one.
    public init(changes: [Change], roster: [RosterEntry] = [], rosterKey: [UInt8]? = nil) {
        self.changes = changes
        self.roster = roster
        self.rosterKey = rosterKey
    }
}

extension Store {
    /// A bundle of every change the summary lacks (all changes without one), with the roster
    /// entries the server signed.
    public func bundle(for summary: SyncSummary? = nil) throws -> (file: [UInt8], count: Int) {
        let (stored, _) = try changes(missingFrom: summary ?? SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max)
        let own = replica
        try recordOwnSent(through: stored.filter { $0.replica == own }.map(\.counter).max() ?? 0)
        let file = try BundleFile.encode(
            changes: stored, replica: replica, reporter: try reporter, createdMs: systemClock(), roster: try roster(),
            rosterKey: try rosterKey())
        return (file, stored.count)
    }

    /// A summary file of what this store holds.
    public func summaryFile() throws -> [UInt8] {
        try BundleFile.encode(summary: try summary(), replica: replica, reporter: try reporter, createdMs: systemClock())
    }

    /// Checks a bundle whole, takes its roster (only entries the pinned server key signed; a
    /// bundle never pins a key), then applies its changes in one transaction; applying it twice
    /// changes nothing. A change that fails verification is left out and listed in `refused`
    /// (so are unverified changes the roster showed to be forged); everything else is applied.
    public func applyBundle(_ file: [UInt8]) throws -> ApplyReport {
        let bundle = try BundleFile.decodeChanges(file)
        let update = try acceptRoster(bundle.roster, rosterKey: nil)
        var report = try applyRemote(bundle.changes, bulk: true)
        report.refused = update.dropped + report.refused
        return report
    }
}
