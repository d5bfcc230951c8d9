import OutpostCore
import OutpostStore

/// What a sync session moved.
public struct SyncReport: Hashable, Sendable {
    /// Changes sent to the far side.
    public var sent = 0
    /// Changes received from the far side.
    public var received = 0
    /// How applying the received changes went here.
    public var local = ApplyReport()
    /// How applying the sent changes went there.
    public var remote = ApplyReport()

    /// An empty report.
    public init() {}
}

/// A two-way (or one-way) sync between two replicas over `SyncTransport`s.
///
/// The sender's roster (entries the server signed) goes first, so the receiver can verify what
/// follows. Each side states what it has in a summary; the other sends what is missing in causal order,
/// in bounded batches, each applied atomically and acknowledged. An interrupted session loses
/// nothing: the next one starts from the receiver's summary, which counts every batch it committed.
public struct SyncSession: Sendable {
    /// Most changes in one batch.
    public var batchLimit: Int
    /// About the most bytes of change JSON in one batch.
    public var batchBytes: Int

    /// Changes per batch unless told otherwise. Each batch is one transaction on the receiver,
    /// and a commit writes every page the batch touched: 5,000 edits of scattered records commit
    /// about as fast as 1,000 (`outpost-bench apply --batch`), so fewer commits go much further.
    public static let defaultBatchLimit = 5000
    /// Bytes of change JSON per batch unless told otherwise (a few MB of memory on each side).
    public static let defaultBatchBytes = 4 << 20

    /// Makes a session with batch bounds.
    public init(batchLimit: Int = SyncSession.defaultBatchLimit, batchBytes: Int = SyncSession.defaultBatchBytes) {
        self.batchLimit = max(1, batchLimit)
        self.batchBytes = max(1, batchBytes)
    }

    /// Sends `from` its roster and every change `to` lacks. Changes that fail verification at `to`
    /// are left out there and listed in the report's `refused` (with unverified changes the roster
    /// then showed to be forged); everything else is applied.
    ///
    /// Teams (issue 14): `to` is given in the clear only what it may read (as `from` judges it
    /// from its roster); the rest goes as sealed parcels `to` carries for the server, or, when
    /// `from` has no parcel key yet or `to` cannot carry parcels, is left out. The report's
    /// `withheld` counts what was not given in the clear, `sealedForServer` what of it went sealed.
    /// `count` counts the changes given in the clear.
    public func send(from: any SyncTransport, to: any SyncTransport) async throws -> (count: Int, report: ApplyReport) {
        var count = 0
        var report = ApplyReport()
        report.refused += try await to.receiveRoster(try await from.roster()).dropped
        let reader = try await to.reader()
        var position: Int64 = 0
        var summary = try await to.summary()
        _ = try await from.continueIfRestored(partner: summary)
        while true {
            let batch = try await from.changes(
                missingFrom: summary, afterSeq: position, limit: batchLimit, maxBytes: batchBytes)
            if batch.changes.isEmpty { break }
            let out = try await from.outgoing(batch.changes, for: reader)
            if !out.clear.isEmpty { report.add(try await to.receive(out.clear)) }
            report.withheld += out.sealed + out.leftOut
            if !out.parcels.isEmpty {
                do {
                    _ = try await to.receiveParcels(out.parcels)
                    report.sealedForServer += out.sealed
                } catch is CannotCarryParcels {}
            }
            count += out.clear.count
            position = batch.nextSeq
            for change in batch.changes {
                var entry = summary.entries[change.dot.replica] ?? SyncSummary.Entry(contiguous: 0)
                if change.dot.counter > entry.contiguous { entry.extra.insert(change.dot.counter) }
                summary.entries[change.dot.replica] = entry
            }
        }
        return (count, report)
    }

    /// Two-way sync: `a` receives what `b` has, then `b` receives what `a` has.
    public func run(_ a: any SyncTransport, _ b: any SyncTransport) async throws -> SyncReport {
        var report = SyncReport()
        // Each side first looks for signs it was restored in what the other holds, so both
        // exchange under their current replicas.
        let (summaryA, summaryB) = (try await a.summary(), try await b.summary())
        _ = try await a.continueIfRestored(partner: summaryB)
        _ = try await b.continueIfRestored(partner: summaryA)
        let received = try await send(from: b, to: a)
        report.received = received.count
        report.local = received.report
        let sent = try await send(from: a, to: b)
        report.sent = sent.count
        report.remote = sent.report
        return report
    }
}
