import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// Teams in the roster (issue 14): the server signs a replica's team with its entry, so no peer
/// can move a replica to another team, and an encrypted device keeps team names sealed.
@Suite struct RosterTeamTests {
    static func entry(team: String?, rosterKey: DeviceKey) -> RosterEntry {
        let device = DeviceKey()
        return RosterEntry(
            replica: ReplicaID.derived(fromPublicKey: device.publicKey), key: device.publicKey, reporter: "bob", team: team,
            status: .active, version: 3
        ).signed(by: rosterKey)
    }

    @Test func aTeamIsSignedWithTheEntry() throws {
        let rosterKey = DeviceKey()
        let signed = Self.entry(team: "Kidal", rosterKey: rosterKey)
        #expect(signed.isValid(rosterPublicKey: rosterKey.publicKey))  // control
        #expect(signed.effectiveTeam == "Kidal")
        var moved = signed
        moved.team = "Gao"
        #expect(!moved.isValid(rosterPublicKey: rosterKey.publicKey))
        var stripped = signed
        stripped.team = nil
        #expect(!stripped.isValid(rosterPublicKey: rosterKey.publicKey))
        // Read back from its JSON, the team is still covered.
        let back = try RosterEntry(json: signed.json)
        #expect(back == signed && back.isValid(rosterPublicKey: rosterKey.publicKey))
    }

    @Test func anEntrySignedBeforeTeamsIsInTheDefaultTeam() throws {
        let rosterKey = DeviceKey()
        let legacy = Self.entry(team: nil, rosterKey: rosterKey)
        #expect(Array(legacy.signedBytes.prefix(17)) == RosterEntry.signedPrefix)
        #expect(legacy.isValid(rosterPublicKey: rosterKey.publicKey))
        #expect(legacy.effectiveTeam == TeamName.defaultTeam)
        // A team added to it afterwards breaks the signature.
        var added = legacy
        added.team = TeamName.defaultTeam
        #expect(!added.isValid(rosterPublicKey: rosterKey.publicKey))
    }

    @Test func aBadTeamNameIsRefusedByName() {
        for bad: JSONValue in ["", " Gao", "Gao\n", .int(3), .string(String(repeating: "x", count: 65))] {
            var json = Self.entry(team: "Gao", rosterKey: DeviceKey()).json
            guard case .object(var members) = json else { return }
            members["team"] = bad
            json = .object(members)
            #expect(throws: ChangeFormatError.self) { try RosterEntry(json: json) }
        }
        #expect(TeamName.isValid("Tombouctou-Nord 2"))
    }

    @Test(arguments: [false, true]) func aStoreKeepsTheTeamSealedWhenEncrypted(encrypted: Bool) throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let rosterKey = DeviceKey()
            let store = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(encrypted))
            try store.pinRosterKey(rosterKey.publicKey)
            let team = "TEAM_CANARY_" + UUID().uuidString.prefix(8)
            let entry = Self.entry(team: String(team), rosterKey: rosterKey)
            #expect(try store.acceptRoster([entry]).accepted == 1)
            #expect(try store.roster().first { $0.replica == entry.replica }?.team == String(team))
            let found = try StoreEncryptionTests.folderContains(Array(team.utf8), dir)
            #expect(found == !encrypted)  // the plaintext store is the positive control
        }
    }
}
