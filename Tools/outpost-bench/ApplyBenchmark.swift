import Foundation
import OutpostCore
import OutpostStore
import OutpostSync

/// Remote changes applied per second, and bytes per change in a bundle.
///
/// A store holding `incidents` incidents receives `changes` edits made by `replicas` other
/// replicas (each edit's deps are what its author had seen, so some edits race each other and
/// become conflicts), applied in batches of `batch`: all at once as a bundle is, or as a sync session commits them.
enum ApplyBenchmark {
    /// The same changes as a bundle file applied by `Store.applyBundle` (what `outpost bundle
    /// apply` does: check and decode the file, then apply it in one transaction), into a second
    /// store made like the first.
    static func bundleEndToEnd(
        _ remote: [Change], incidents: Int, origin: ReplicaID, roster: [RosterEntry], in dir: String, cipher: StoreCipher?
    ) throws {
        let lines = remote.enumerated().map {
            StoredChange(
                seq: Int64($0.offset + 1), replica: $0.element.dot.replica, counter: $0.element.dot.counter,
                body: $0.element.encodedJSON())
        }
        let file = try BundleFile.encode(changes: lines, replica: ReplicaID.random(), reporter: "courier", createdMs: 0)
        let receiver = try Store.create(at: dir + "-receiver", reporter: "server", replica: origin, cipher: cipher)
        defer { try? FileManager.default.removeItem(atPath: dir + "-receiver") }
        _ = try receiver.importIncidents(incidentInputs(incidents), wallMs: 1_767_225_600_000)
        try receiver.trust(roster)
        let decodeStart = DispatchTime.now().uptimeNanoseconds
        _ = try BundleFile.decode(file)
        let decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - decodeStart) / 1e9
        let start = DispatchTime.now().uptimeNanoseconds
        let report = try receiver.applyBundle(file)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard report.applied == remote.count else { throw BenchError("the bundle applied \(report.applied) changes") }
        print(
            String(
                format:
                    "bundle apply, end to end: %d changes (%d KB file) in %.2f s = %.0f changes/s (checking and decoding it: %.2f s)",
                remote.count, file.count / 1024, seconds, Double(remote.count) / seconds, decodeSeconds))
    }

    /// The receiving store's incidents (small records, given ids).
    static func incidentInputs(_ count: Int) -> [IncidentInput] {
        (0..<count).map { i in
            var fields: [String: JSONValue] = [:]
            fields["title"] = .string("Incident \(i) near Gao")
            fields["event_type"] = .string("battle")
            fields["killed"] = .int(Int64(i % 7))
            fields["lat"] = .double(16.0 + Double(i % 1000) / 1000)
            fields["lon"] = .double(-0.5 + Double(i % 997) / 1000)
            fields["occurred_at"] = .string("2026-03-01")
            fields["status"] = .string("submitted")
            return IncidentInput(id: "inc-\(i)", fields: fields)
        }
    }

    static func run(
        incidents: Int = 100_000, changes: Int = 100_000, replicas: Int = 50, batch: Int = SyncSession.defaultBatchLimit,
        encrypted: Bool = false
    ) throws {
        let dir = NSTemporaryDirectory() + "outpost-bench-apply-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cipher = encrypted ? try StoreCipher(key: StoreCipher.randomKey()) : nil
        let store = try Store.create(at: dir, reporter: "server", cipher: cipher)
        if encrypted { print("apply: the receiving stores are encrypted") }

        print("apply: importing \(incidents) incidents into the receiving store…")
        var generator = SplitMix64(seed: 42)
        let ids = try store.importIncidents(incidentInputs(incidents), wallMs: 1_767_225_600_000)
        // Our create of incident i has counter i + 1: the deps every remote editor starts from.
        let origin = store.replica

        print("apply: generating \(changes) changes from \(replicas) replicas…")
        let keys = (0..<replicas).map { _ in DeviceKey() }
        let authors = keys.map(\.replicaID)
        // The authors are in the roster, so every change is verified as it is applied.
        let roster = keys.enumerated().map {
            RosterEntry(replica: $1.replicaID, key: $1.publicKey, reporter: "reporter-\($0)", status: .active, version: 1)
        }
        try store.trust(roster)
        var counters = [UInt64](repeating: 0, count: replicas)
        var seen: [Int: VersionVector] = [:]  // record → what the (single) relay view holds
        var remote: [Change] = []
        remote.reserveCapacity(changes)
        let fields: [(String, (inout SplitMix64) -> JSONValue)] = [
            ("killed", { .int(Int64($0.next() % 50)) }), ("injured", { .int(Int64($0.next() % 80)) }),
            ("status", { .string(["verified", "disputed", "submitted"][Int($0.next() % 3)]) }),
            ("place_name", { .string("Village \($0.next() % 500)") }),
            ("narrative", { .string("Witness account number \($0.next() % 10_000): gunfire heard at dawn near the market.") }),
        ]
        for n in 0..<changes {
            let a = n % replicas
            let record = Int(generator.next() % UInt64(ids.count))
            counters[a] += 1
            var deps = seen[record] ?? VersionVector([origin: UInt64(record + 1)])
            // Most edits saw the record's latest state; one in ten races the previous edit.
            if generator.next() % 10 == 0 { deps = VersionVector([origin: UInt64(record + 1)]) }
            let (field, make) = fields[Int(generator.next() % UInt64(fields.count))]
            let change = keys[a].signed(
                Change(
                    dot: Dot(replica: authors[a], counter: counters[a]), record: RecordKey(id: ids[record]), deps: deps,
                    tag: HLCTag(ms: 1_767_225_700_000 + Int64(n), seq: 0), writes: [field: make(&generator)],
                    reporter: "reporter-\(a)"))
            var after = seen[record] ?? VersionVector([origin: UInt64(record + 1)])
            after[authors[a]] = counters[a]
            seen[record] = after
            remote.append(change)
        }

        let mode =
            batch >= remote.count
            ? "as one bundle (one transaction, as `outpost bundle apply`)"
            : "in batches of \(batch) (as a sync session commits them)"
        print("apply: applying \(mode)…")
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = clock()
        var report = ApplyReport()
        var index = 0
        while index < remote.count {
            let end = min(index + batch, remote.count)
            report.add(try store.applyRemote(Array(remote[index..<end])))
            index = end
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = Double(clock() - cpuStart) / Double(CLOCKS_PER_SEC)
        print(
            String(
                format:
                    "apply: %d changes applied in %.2f s = %.0f changes/s (%.2f s of CPU = %.0f changes per CPU-second; applied %d, held back %d, duplicates %d, conflicted records %d)",
                remote.count, seconds, Double(remote.count) / seconds, cpuSeconds, Double(remote.count) / cpuSeconds,
                report.applied, report.heldBack, report.duplicates,
                report.conflictedRecords))
        if batch >= remote.count {
            try bundleEndToEnd(remote, incidents: incidents, origin: store.replica, roster: roster, in: dir, cipher: cipher)
        }

        let senderDir = dir + "-bundle"
        defer { try? FileManager.default.removeItem(atPath: senderDir) }
        let (file, count) = try store.bundle(for: nil)
        let decodeStart = DispatchTime.now().uptimeNanoseconds
        _ = try BundleFile.decode(file)
        let decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - decodeStart) / 1e9
        let jsonBytes = try store.changes(missingFrom: SyncSummary(), limit: Int.max, maxBytes: Int.max).changes
            .reduce(0) { $0 + $1.body.count + 1 }
        print(
            String(
                format:
                    "bundle: %d changes, %d bytes = %.1f bytes/change (%.1f bytes/change as uncompressed JSON lines); checking and decoding it took %.2f s",
                count, file.count, Double(file.count) / Double(count), Double(jsonBytes) / Double(count), decodeSeconds))
    }
}
