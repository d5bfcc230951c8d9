import Crypto
import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import OutpostTestSupport
import Testing

/// `bundle summary`, `bundle create --for` and `bundle apply` between teams (issue 14), through
/// the real binary: what the peer may not read goes sealed, and the receiver says it carries it.
@Suite("bundles between teams on the command line")
struct TeamBundleCLITests: CLIStoreSuite {
    /// Enrolls the stores at `paths` (name, team) with one roster key; pins the parcel key when asked.
    private func enroll(_ members: [(path: String, name: String, team: String, parcelKey: Bool)]) throws {
        let rosterKey = DeviceKey()
        let parcelKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        let stores = try members.map { try openStore($0.path) }
        let entries = zip(members, stores).map { member, store in
            RosterEntry(
                replica: store.replica, key: store.publicKey, reporter: member.name, team: member.team, status: .active,
                version: 1
            ).signed(by: rosterKey)
        }
        for (member, store) in zip(members, stores) {
            try store.acceptRoster(entries, rosterKey: rosterKey.publicKey)
            if member.parcelKey {
                try store.pinParcelKey(parcelKey, signature: rosterKey.signature(for: Store.parcelKeyStatement(parcelKey)))
            }
        }
    }

    @Test func aBundleForAnotherTeamCarriesSealedParcelsAndSaysSo() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let (bob, alice, dan) = (folder.path + "/bob", folder.path + "/alice", folder.path + "/dan")
        for (path, name) in [(bob, "bob"), (alice, "alice"), (dan, "dan")] {
            _ = try ok(["init", "--reporter", name], store: path)
        }
        try enroll([
            (bob, "bob", "Kidal", true), (alice, "alice", "Gao", true), (dan, "dan", "Kidal", false),
        ])
        let canary = "OUTPOST_CANARY_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        _ = try ok(["new", "--title", "Checkpoint", "--narrative", canary], store: bob)
        let summary = folder.path + "/alice.summary"
        _ = try ok(["bundle", "summary", "--out", summary], store: alice)
        let file = folder.path + "/bob.bundle"
        let created = try ok(["bundle", "create", "--for", summary, "--out", file], store: bob)
        #expect(created.contains("Wrote 0 changes and 1 sealed parcel for the server (1 change the peer may not read)"))
        let applied = try ok(["bundle", "apply", file], store: alice)
        #expect(applied.contains("0 new changes") && applied.contains("carrying 1 sealed parcel for the server"))
        #expect(!(try ok(["list"], store: alice)).contains("Checkpoint"))
        // Dan has no parcel key yet: what Alice may not read is left out, and he is told.
        _ = try ok(["new", "--title", "Dan's"], store: dan)
        let leftOut = try ok(["bundle", "create", "--for", summary, "--out", folder.path + "/dan.bundle"], store: dan)
        #expect(leftOut.contains("1 change left out") && leftOut.contains("sync once"))
        // Control: Bob's teammate Dan gets it in the clear.
        let danSummary = folder.path + "/dan.summary"
        _ = try ok(["bundle", "summary", "--out", danSummary], store: dan)
        let forDan = folder.path + "/for-dan.bundle"
        #expect(try ok(["bundle", "create", "--for", danSummary, "--out", forDan], store: bob).contains("Wrote 1 change to"))
        _ = try ok(["bundle", "apply", forDan], store: dan)
        #expect(try ok(["list"], store: dan).contains("Checkpoint"))
    }
}
