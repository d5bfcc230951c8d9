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
/// `{"format": "outpost-bundle", "version": 1|2, "kind": "changes"|"summary", "replica", "reporter", "created_at", "count"}`
/// (a bundle of changes adds `"roster_key": b64u` and `"roster": [entry…]`, the roster entries the
/// server signed, so a device that never reached the server can verify the changes),
/// then one change per line (or the summary object), then `{"sha256": hex}` over every byte before that line.
///
/// Version 2 (issue 14, teams): a summary is signed by its device (header `"key": b64u`, and a
/// `{"summary_sig": b64u}` line before the checksum line: the device key's signature over
/// `Store.summaryStatement` of the SHA-256 of the header and summary lines), so the sender knows
/// whose summary it is and gives that reader in the clear only what it may read. A bundle of
/// changes may carry `"parcels": [b64u…]`, sealed parcels for the server holding what the
/// reader may not read, with `"parcel_key"` and `"parcel_key_sig"` (the server's parcel key and
/// its roster key's signature). A bundle with no parcels is still written as version 1.
public enum BundleFile {
    /// The format name in the header.
    public static let format = "outpost-bundle"
    /// The newest format version this build writes and reads.
    public static let version: Int64 = 2
    /// The version of a bundle of changes with no parcels (older builds read it).
    public static let plainVersion: Int64 = 1
    /// The largest uncompressed bundle accepted.
    public static let maxBytes = 1 << 30

    /// Encodes changes (wire-format JSON) as a bundle file, with the roster entries the server
    /// signed and the server's roster key (which the receiver never pins from a bundle).
    public static func encode(
        changes: [StoredChange], replica: ReplicaID, reporter: String, createdMs: Int64, roster: [RosterEntry] = [],
        rosterKey: [UInt8]? = nil, parcels: [[UInt8]] = [], parcelKey: (key: [UInt8], signature: [UInt8])? = nil
    ) throws(BundleError) -> [UInt8] {
        var extra: [String: JSONValue] = ["roster": .array(roster.filter { $0.sig != nil }.map(\.json))]
        if let rosterKey { extra["roster_key"] = .string(Base64URL.encode(rosterKey)) }
        if !parcels.isEmpty { extra["parcels"] = .array(parcels.map { .string(Base64URL.encode($0)) }) }
        if let parcelKey {
            extra["parcel_key"] = .string(Base64URL.encode(parcelKey.key))
            extra["parcel_key_sig"] = .string(Base64URL.encode(parcelKey.signature))
        }
        var body = header(
            kind: "changes", version: parcels.isEmpty ? plainVersion : version, replica: replica, reporter: reporter,
            createdMs: createdMs, count: changes.count, extra: extra)
        for change in changes {
            body.append(contentsOf: change.body)
            body.append(0x0A)
        }
        return try seal(body)
    }

    /// Encodes a summary as a summary file; with `key` and `sign` (the device's public key and
    /// its signer of the digest, `Store.signSummaryDigest`) a signed one (version 2).
    public static func encode(
        summary: SyncSummary, replica: ReplicaID, reporter: String, createdMs: Int64, key: [UInt8]? = nil,
        sign: (([UInt8]) -> [UInt8])? = nil
    ) throws(BundleError) -> [UInt8] {
        var extra: [String: JSONValue] = [:]
        if let key, sign != nil { extra["key"] = .string(Base64URL.encode(key)) }
        var body = header(
            kind: "summary", version: sign == nil ? plainVersion : version, replica: replica, reporter: reporter,
            createdMs: createdMs, count: 1, extra: extra)
        summary.json.write(to: &body)
        body.append(0x0A)
        if key != nil, let sign {
            let signature = sign(Array(SHA256.hash(data: body)))
            JSONValue.object(["summary_sig": .string(Base64URL.encode(signature))]).write(to: &body)
            body.append(0x0A)
        }
        return try seal(body)
    }

    private static func header(
        kind: String, version: Int64, replica: ReplicaID, reporter: String, createdMs: Int64, count: Int,
        extra: [String: JSONValue] = [:]
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
        switch header?["parcels"] {
        case .array(let items)?:
            for (i, item) in items.enumerated() {
                guard case .string(let text) = item, let parcel = Base64URL.decode(text), Parcel.recipientKey(of: parcel) != nil
                else { throw BundleError("bundle header: parcels[\(i)] is not a sealed parcel in unpadded base64url") }
                bundle.parcels.append(parcel)
            }
        case nil, .null?: break
        default: throw BundleError("bundle header: parcels must be an array")
        }
        switch (header?["parcel_key"], header?["parcel_key_sig"]) {
        case (.string(let keyText)?, .string(let sigText)?):
            guard let key = Base64URL.decode(keyText), key.count == 32, let signature = Base64URL.decode(sigText) else {
                throw BundleError(
                    "bundle header: parcel_key and parcel_key_sig must be a 32-byte key and a signature in base64url")
            }
            bundle.parcelKey = (key, signature)
        case (nil, nil), (.null?, .null?): break
        default: throw BundleError("bundle header: parcel_key and parcel_key_sig go together")
        }
        return bundle
    }

    /// Checks a whole summary file as `decode` does and returns it with who signed it.
    public static func decodeSummary(_ file: [UInt8], maxBytes: Int = maxBytes) throws(BundleError) -> SignedSummary {
        let (contents, header, reader) = try readWhole(file, maxBytes: maxBytes)
        guard case .summary(let summary) = contents else { throw BundleError("this is a bundle of changes, not a summary file") }
        var signed = SignedSummary(summary: summary, digest: reader.summaryDigest)
        if case .string(let hex)? = header?["replica"] { signed.replica = ReplicaID(hex: hex) }
        if case .string(let text)? = header?["key"] { signed.key = Base64URL.decode(text) }
        signed.signature = reader.summarySignature
        return signed
    }

    /// Checks a whole file and returns its contents and header.
    private static func read(_ file: [UInt8], maxBytes: Int) throws(BundleError) -> (contents: BundleContents, header: JSONValue?)
    {
        let (contents, header, _) = try readWhole(file, maxBytes: maxBytes)
        return (contents, header)
    }

    /// Checks a whole file and returns its contents, header and the reader that took it apart.
    private static func readWhole(_ file: [UInt8], maxBytes: Int) throws(BundleError) -> (
        contents: BundleContents, header: JSONValue?, reader: BundleLineReader
    ) {
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
        return (contents, reader.header, reader)
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

/// A checked summary file and who says they made it (`decodeSummary`); the signature is for
/// the store to check against its roster (`Store.reader(ofSummaryBy:key:digest:signature:)`).
public struct SignedSummary: Hashable, Sendable {
    /// What the peer holds.
    public var summary: SyncSummary
    /// The replica the header names.
    public var replica: ReplicaID?
    /// The public key the header gives (version 2).
    public var key: [UInt8]?
    /// SHA-256 of the header and summary lines.
    public var digest: [UInt8]
    /// The device's signature over `Store.summaryStatement(digest)`; nil in an unsigned summary.
    public var signature: [UInt8]?

    /// Makes one.
    public init(summary: SyncSummary, replica: ReplicaID? = nil, key: [UInt8]? = nil, digest: [UInt8], signature: [UInt8]? = nil)
    {
        self.summary = summary
        self.replica = replica
        self.key = key
        self.digest = digest
        self.signature = signature
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
    /// Sealed parcels for the server (what the receiver may not read), as carried.
    public var parcels: [[UInt8]] = []
    /// The server's parcel key and its roster key's signature over it, as the sender pinned them.
    public var parcelKey: (key: [UInt8], signature: [UInt8])?

    public static func == (a: ChangeBundle, b: ChangeBundle) -> Bool {
        a.changes == b.changes && a.roster == b.roster && a.rosterKey == b.rosterKey && a.parcels == b.parcels
            && a.parcelKey?.key == b.parcelKey?.key && a.parcelKey?.signature == b.parcelKey?.signature
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(changes)
        hasher.combine(parcels)
    }

    /// Makes one.
    public init(changes: [Change], roster: [RosterEntry] = [], rosterKey: [UInt8]? = nil) {
        self.changes = changes
        self.roster = roster
        self.rosterKey = rosterKey
    }
}

extension Store {
    /// A bundle of every change the summary lacks (all changes without one), with the roster
    /// entries the server signed. Where teams are in force the peer is taken to be a reporter of
    /// this device's own team who is not its reporter (`bundle(for:reader:)`).
    public func bundle(for summary: SyncSummary? = nil) throws -> (file: [UInt8], count: Int) {
        let made = try bundle(for: summary, reader: try teammateReader())
        return (made.file, made.count)
    }

    /// The reader a bundle without a summary is for: a reporter of this device's team who is not
    /// its reporter (nil, so nothing in the clear, until the roster names this device).
    public func teammateReader() throws -> PeerReader? {
        try ownReader().map { PeerReader.teammate(in: $0.team) }
    }

    /// A bundle for the peer whose signed summary file this is: the reader its signature shows
    /// (a known replica of the roster, key and signature matching); anyone else (an unsigned or
    /// forged summary, an unknown replica) is given nothing in the clear.
    public func bundle(forSigned signed: SignedSummary) throws -> CarriedBundle {
        var reader: PeerReader?
        if let replica = signed.replica, let key = signed.key, let signature = signed.signature {
            reader = try self.reader(ofSummaryBy: replica, key: key, digest: signed.digest, signature: signature)
        }
        return try bundle(for: signed.summary, reader: reader)
    }

    /// A bundle of what the summary lacks: in the clear what `reader` may read (everything where
    /// teams are not in force), the rest sealed into parcels for the server when this device has
    /// its parcel key, else left out and counted.
    public func bundle(for summary: SyncSummary?, reader: PeerReader?) throws -> CarriedBundle {
        let (stored, _) = try changes(missingFrom: summary ?? SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max)
        let own = replica
        try recordOwnSent(through: stored.filter { $0.replica == own }.map(\.counter).max() ?? 0)
        let (clear, withheld) = try split(stored, for: reader)
        let parcelKey = try self.parcelKey()
        var parcels: [[UInt8]] = []
        if let parcelKey, !withheld.isEmpty {
            parcels = try Parcel.seal(changeBodies: withheld.map(\.body), to: parcelKey.key, perParcel: Parcel.maxChanges)
        }
        let file = try BundleFile.encode(
            changes: clear, replica: replica, reporter: try reporter, createdMs: systemClock(), roster: try roster(),
            rosterKey: try rosterKey(), parcels: parcels, parcelKey: parcelKey)
        return CarriedBundle(
            file: file, count: clear.count, parcels: parcels.count, sealed: parcels.isEmpty ? 0 : withheld.count,
            leftOut: parcels.isEmpty ? withheld.count : 0)
    }

    /// A summary file of what this store holds, signed by this device.
    public func summaryFile() throws -> [UInt8] {
        try BundleFile.encode(
            summary: try summary(), replica: replica, reporter: try reporter, createdMs: systemClock(), key: publicKey,
            sign: { self.signSummaryDigest($0) })
    }

    /// Checks a bundle whole, takes its roster (only entries the pinned server key signed; a
    /// bundle never pins a key), then applies its changes in one transaction; applying it twice
    /// changes nothing. A change that fails verification is left out and listed in `refused`
    /// (so are unverified changes the roster showed to be forged); everything else is applied.
    /// Its parcels are held for the server (`parcels` counts them) when they are sealed to the
    /// parcel key this device pinned, which a bundle may pin when the pinned roster key vouches
    /// for it; changes of records this device may not read are not applied (`withheld`).
    public func applyBundle(_ file: [UInt8]) throws -> ApplyReport {
        let bundle = try BundleFile.decodeChanges(file)
        let update = try acceptRoster(bundle.roster, rosterKey: nil)
        if let offered = bundle.parcelKey, try parcelKey() == nil, try rosterKey() != nil {
            // Only a key the pinned roster key signed is pinned; any other is ignored here.
            try? pinParcelKey(offered.key, signature: offered.signature)
        }
        var report = try applyRemote(bundle.changes, bulk: true, sealer: Store.parcelSealer)
        report.refused = update.dropped + report.refused
        if !bundle.parcels.isEmpty, let pinned = try parcelKey()?.key {
            for parcel in bundle.parcels where Parcel.recipientKey(of: parcel) == pinned {
                try holdParcel(parcel)
                report.parcels += 1
            }
        }
        return report
    }
}

/// A bundle written for a peer (`Store.bundle(for:reader:)`).
public struct CarriedBundle: Sendable {
    /// The file.
    public var file: [UInt8]
    /// Changes in the clear.
    public var count: Int
    /// Sealed parcels it carries.
    public var parcels: Int
    /// Changes those parcels hold.
    public var sealed: Int
    /// Changes the peer may not read that were left out (no parcel key pinned yet).
    public var leftOut: Int
}
