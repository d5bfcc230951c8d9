import Foundation
import OutpostCore
import OutpostStore
import OutpostSync

/// `outpost-bench parcel [--changes 1000] [--runs 20] [--parcels 10]`: sealing and opening a
/// parcel of signed changes (median ms of `--runs`), and the server's rate for a parcel handed in:
/// open, verify every signature against the roster, apply, record it opened (what
/// `SQLiteBackend.openParcel` does), over `--parcels` parcels into one server store.
enum ParcelBenchmark: Benchmark {
    static let name = "parcel"
    static let usage =
        "[--changes 1000] [--runs 20] [--parcels 10]  seal/open a parcel (median ms); server open+verify+apply rate"

    static func run(_ arguments: BenchArguments) throws {
        let changes = try arguments.int("changes", Parcel.maxChanges)
        let runs = try arguments.int("runs", 20)
        let parcels = try arguments.int("parcels", 10)
        guard changes <= Parcel.maxChanges else { throw BenchError("--changes is at most \(Parcel.maxChanges) (one parcel)") }
        let dir = try Bench.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // The server: its store, roster key and parcel key; one author enrolled by key.
        let server = try Store.create(at: dir + "/server", reporter: "server")
        let rosterKey = try server.serverRosterKey()
        let parcelKey = try server.serverParcelKey()
        let recipient = Array(parcelKey.publicKey.rawRepresentation)
        let author = try Store.create(at: dir + "/bob", reporter: "bob")
        _ = try server.raiseRosterEntry(
            replica: author.replica, key: author.publicKey, reporter: "bob", status: .active, signedBy: rosterKey)

        // Signed changes: new realistic incidents, `changes` per parcel.
        var generator = IncidentGenerator()
        var bodies: [[[UInt8]]] = []
        for p in 0..<parcels {
            var parcel: [[UInt8]] = []
            for i in 0..<changes {
                let fields = generator.incident(index: p * changes + i).objectValue ?? [:]
                parcel.append(try author.create(fields: fields).encodedJSON())
            }
            bodies.append(parcel)
        }
        let payloadBytes = bodies[0].reduce(0) { $0 + $1.count + 1 }

        var sealMs: [Double] = []
        var openMs: [Double] = []
        var sealed: [UInt8] = []
        for _ in 0..<runs {
            let start = Bench.now()
            sealed = try Parcel.seal(changeBodies: bodies[0], to: recipient)
            sealMs.append((Bench.now() - start) * 1000)
            let openStart = Bench.now()
            let opened = try Parcel.open(sealed, with: parcelKey)
            openMs.append((Bench.now() - openStart) * 1000)
            guard opened.count == changes else { throw BenchError("the parcel opened to \(opened.count) changes") }
        }
        sealMs.sort()
        openMs.sort()
        print(
            String(
                format: "parcel of %d signed changes: %d KB of change JSON sealed into %d KB", changes, payloadBytes / 1024,
                sealed.count / 1024))
        print(
            String(
                format:
                    "seal: median %.1f ms, p90 %.1f ms; open (decrypt, inflate, decode): median %.1f ms, p90 %.1f ms (%d runs)",
                Bench.quantile(sealMs, 0.5), Bench.quantile(sealMs, 0.9), Bench.quantile(openMs, 0.5),
                Bench.quantile(openMs, 0.9), runs))

        // The server's side, parcel by parcel as `POST /v1/parcels` hands them in.
        let sealedParcels = try bodies.map { try Parcel.seal(changeBodies: $0, to: recipient) }
        let start = Bench.now()
        var applied = 0
        for parcel in sealedParcels {
            let hash = Parcel.hash(parcel)
            guard !(try server.wasParcelOpened(hash: hash)) else { throw BenchError("a parcel was opened twice") }
            let opened = try Parcel.open(parcel, with: try server.serverParcelKey())
            let report = try server.applyRemote(opened, trust: .server, deliveredBy: 1)
            try server.recordParcelOpened(hash: hash, token: 1, changes: opened.count)
            applied += report.applied
        }
        let seconds = Bench.now() - start
        guard applied == parcels * changes else { throw BenchError("the server applied \(applied) changes") }
        print(
            String(
                format:
                    "server open + verify + apply: %d parcels of %d changes in %.2f s = %.0f changes/s (%.1f ms per parcel)",
                parcels, changes, seconds, Double(applied) / seconds, seconds * 1000 / Double(parcels)))
    }
}
