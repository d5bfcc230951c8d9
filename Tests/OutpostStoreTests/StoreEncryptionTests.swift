import Crypto
import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// The data keys tests seal stores with (fixed, so a failure is reproducible).
enum TestCipher {
    /// The key of every encrypted test store.
    static let key = SymmetricKey(data: Array(repeating: UInt8(0x42), count: 32))
    /// Another key, for the wrong-key tests.
    static let otherKey = SymmetricKey(data: Array(repeating: UInt8(0x17), count: 32))

    /// A cipher of `key`, or nil for a plaintext store.
    static func cipher(_ encrypted: Bool) -> StoreCipher? { encrypted ? try! StoreCipher(key: key) : nil }
}

/// Encryption at rest (issue 13, `CRYPT-PLAN.md` section 1): an encrypted store's files hold no
/// incident content, reporter name, server address or token, or signing key; a value moved to
/// another row does not open there; the store opens only with its key.
@Suite struct StoreEncryptionTests {
    /// A marker no store writes by itself.
    static func newCanary() -> String { "OUTPOST_CANARY_" + UUID().uuidString.replacingOccurrences(of: "-", with: "") }

    /// Whether any regular file directly in `directory` contains `needle`.
    static func folderContains(_ needle: [UInt8], _ directory: String) throws -> Bool {
        try FileManager.default.contentsOfDirectory(atPath: directory).contains { name in
            let path = (directory as NSString).appendingPathComponent(name)
            guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular else {
                return false
            }
            return FileManager.default.contents(atPath: path)?.range(of: Data(needle)) != nil
        }
    }

    /// Every text field of the incident schema, each holding `canary`.
    static func textFields(_ what: String, _ canary: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = ["event_type": "battle", "killed": 2]
        for spec in IncidentSchema.fields {
            if case .text = spec.kind { fields[spec.name] = .string("\(what) \(spec.name) \(canary)") }
        }
        return fields
    }

    /// What each store has of the scenario, read back.
    struct Outcome: Equatable {
        var incidents: [IncidentRecord]
        var conflicts: Int
        var history: [HistoryEntry]
        var rosterNames: [ReplicaID: String]
        var reporter: String
        var token: String?
        var evidence: Int
    }

    /// The canary scenario: the canary goes into every text field of incidents that are created,
    /// edited into a conflict with a peer's concurrent edit, deleted, restored, held back (deps
    /// missing) and imported (on the encoder thread and off it), a peer's and an author's
    /// reporter names (replicas, roster, a signed roster entry), a discarded version of a reused
    /// dot, the reporter name, server URL and token. Returns the secrets whose bytes must not be
    /// in the files (signing keys) and the store's outcome; the store is closed, its WAL truncated.
    static func canaryScenario(encrypted: Bool, in dir: String, canary c: String) throws -> (secrets: [[UInt8]], Outcome) {
        let cipher = TestCipher.cipher(encrypted)
        let peerDir = dir + "-peer"
        defer { try? FileManager.default.removeItem(atPath: peerDir) }
        let store = try Store.create(
            at: dir, reporter: "alice \(c)", settings: ["server_url": "https://\(c).example", "server_token": "token-\(c)"],
            cipher: cipher)
        #expect(store.isEncrypted == encrypted)
        var secrets = [store.key.seed]
        let created = try store.create(fields: textFields("created", c))
        let id = created.record.id
        try store.update(id: id, fields: ["narrative": .string("edited \(c)")])

        // A peer edits the same field concurrently: a conflict, siblings from both.
        let peer = try Store.create(at: peerDir, reporter: "bob \(c)")
        try peer.applyRemote(try store.changes(missingFrom: peer.summary()).changes.map { try $0.change() })
        try peer.update(id: id, fields: ["perpetrator": .string("peer says \(c)")])
        try store.update(id: id, fields: ["perpetrator": .string("alice says \(c)")])
        try store.applyRemote(try peer.changes(missingFrom: store.summary()).changes.map { try $0.change() })
        #expect(try store.conflicts().count == 1)

        let deleted = try store.create(fields: textFields("deleted", c)).record.id
        try store.delete(id: deleted)
        let restored = try store.create(fields: textFields("restored", c)).record.id
        try store.delete(id: restored)
        try store.restore(id: restored)

        // Held back: its author's first change never arrived.
        let ghost = ReplicaID.random()
        let held = TestKeys.signed(
            Change(
                dot: Dot(replica: ghost, counter: 2), record: RecordKey(id: id), deps: VersionVector([ghost: 1]),
                tag: HLCTag(ms: 1_780_000_000_000, seq: 0), writes: ["narrative": .string("held \(c)")],
                reporter: "ghost \(c)"))
        #expect(try store.applyRemote([held]).heldBack == 1)

        // Roster names: trusted, and signed by a pinned server roster key.
        try store.trust([TestKeys.entry(for: ghost, reporter: "ghost \(c)")])
        let rosterKey = DeviceKey()
        try store.pinRosterKey(rosterKey.publicKey)
        let update = try store.acceptRoster([
            RosterEntry(replica: peer.replica, key: peer.publicKey, reporter: "bob \(c)", status: .active, version: 1)
                .signed(by: rosterKey)
        ])
        #expect(update.accepted == 1)

        // Imports: on the encoder thread (from 2 rows) and off it.
        store.encodingPipelineThreshold = 2
        _ = try store.importIncidents((0..<5).map { IncidentInput(fields: textFields("imported \($0)", c)) })
        store.encodingPipelineThreshold = 512
        _ = try store.importIncidents([IncidentInput(fields: textFields("imported alone", c))])

        // A dot in two signed versions: the discarded one is kept as evidence (in meta).
        let author = DeviceKey()
        try store.trust([
            RosterEntry(replica: author.replicaID, key: author.publicKey, reporter: "carol \(c)", status: .active, version: 1)
        ])
        let versions = ["first \(c)", "second \(c)"].map { title in
            author.signed(
                Change(
                    dot: Dot(replica: author.replicaID, counter: 1), record: RecordKey(id: UUID().uuidString.lowercased()),
                    deps: VersionVector(), tag: HLCTag(ms: 1_780_000_000_000, seq: 0), writes: ["title": .string(title)],
                    reporter: "carol \(c)"))
        }
        _ = try store.applyRemote([versions[0]])
        #expect(try store.applyRemote([versions[1]]).reusedDots.count == 1)

        // A server's roster signing key, and a token replaced.
        secrets.append(try store.serverRosterKey().seed)
        try store.setSettings(["server_token": "rotated-\(c)"])
        #expect(try store.checkpointAndTruncate())
        return (secrets, try outcome(store, id: id))
    }

    /// What `store` shows of the canary scenario (`id`: the conflicted incident).
    static func outcome(_ store: Store, id: String) throws -> Outcome {
        Outcome(
            incidents: try store.incidents(includeDeleted: true), conflicts: try store.conflicts().count,
            history: try store.history(id: id), rosterNames: try store.authorNames(), reporter: try store.reporter,
            token: try store.setting("server_token"), evidence: try store.reusedDotEvidence().count)
    }

    /// The canary test: nothing of it, nor any signing key, is in any file of an encrypted
    /// store's folder; everything reads back with the key, as in a plaintext store.
    @Test func anEncryptedStoreLeavesNoCanaryInItsFiles() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let canary = Self.newCanary()
        let (secrets, before) = try Self.canaryScenario(encrypted: true, in: dir, canary: canary)
        #expect(try !Self.folderContains(Array(canary.utf8), dir))
        for secret in secrets { #expect(try !Self.folderContains(secret, dir)) }
        // Nor in the temporary folder (the store keeps SQLite's temporary tables in memory).
        #expect(try !Self.folderContains(Array(canary.utf8), NSTemporaryDirectory()))

        let reopened = try Store.open(at: dir, cipher: TestCipher.cipher(true))
        #expect(reopened.isEncrypted)
        let id = try #require(before.history.first?.change.record.id)
        let after = try Self.outcome(reopened, id: id)
        #expect(after == before)
        #expect(after.incidents.count == 10)
        #expect(after.conflicts == 1)
        #expect(after.history.contains { !$0.applied && $0.change.reporter?.contains(canary) == true })
        #expect(after.rosterNames.values.contains("bob \(canary)"))
        #expect(after.reporter == "alice \(canary)")
        #expect(after.token == "rotated-\(canary)")
        #expect(after.evidence == 2)
        #expect(try reopened.setting("server_url") == "https://\(canary).example")
        #expect(try reopened.roster().contains { $0.sig != nil && $0.reporter == "bob \(canary)" })
    }

    /// Positive control: the same scenario in a plaintext store leaves the canary and the signing
    /// key in its files, so the search above would have found them.
    @Test func aPlaintextStoreLeavesTheCanaryTheSearchLooksFor() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let canary = Self.newCanary()
        let (secrets, _) = try Self.canaryScenario(encrypted: false, in: dir, canary: canary)
        #expect(try Self.folderContains(Array(canary.utf8), dir))
        for secret in secrets { #expect(try Self.folderContains(secret, dir)) }
    }

    /// A backup of an encrypted store is encrypted under the same key.
    @Test func aBackupStaysEncrypted() throws {
        let dir = temporaryStoreDirectory()
        let copyDir = temporaryStoreDirectory()
        defer { for d in [dir, copyDir] { try? FileManager.default.removeItem(atPath: d) } }
        let canary = Self.newCanary()
        let store = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(true))
        let id = try store.create(fields: Self.textFields("backed up", canary)).record.id
        try FileManager.default.createDirectory(atPath: copyDir, withIntermediateDirectories: true)
        try store.backup(to: Store.databasePath(in: copyDir))
        #expect(try !Self.folderContains(Array(canary.utf8), copyDir))
        #expect(try Store.isEncrypted(at: copyDir))
        #expect { try Store.open(at: copyDir) } throws: { ($0 as? StoreError)?.kind == .encrypted }
        // A copy continues under a new replica; its content reads back with the key.
        let copy = try Store.open(at: copyDir, cipher: TestCipher.cipher(true))
        #expect(copy.replica != store.replica)
        #expect(try copy.incident(id: id)?.fields["title"] == .string("backed up title \(canary)"))
    }

    // MARK: Keys

    @Test func openingWithoutAKeyOrWithTheWrongOneIsRefusedAndNamed() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let id = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(true)).create(fields: ["title": "t"])
            .record.id
        #expect(try Store.isEncrypted(at: dir))
        #expect {
            try Store.open(at: dir)
        } throws: { error in
            let error = error as? StoreError
            return error?.kind == .encrypted && error?.message.contains("is encrypted") == true
                && error?.message.contains("outpost unlock") == true
        }
        #expect {
            try Store.open(at: dir, cipher: try StoreCipher(key: TestCipher.otherKey))
        } throws: { error in
            let error = error as? StoreError
            return error?.kind == .encrypted && error?.message.contains("this key does not open the store") == true
        }
        // The right key opens it, and the refused opens changed nothing.
        let store = try Store.open(at: dir, cipher: TestCipher.cipher(true))
        #expect(try store.incident(id: id)?.fields["title"] == "t")
    }

    @Test func aPlaintextStoreOpensAsPlaintextWhateverTheKey() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let id = try Store.create(at: dir, reporter: "alice").create(fields: ["title": "t"]).record.id
        #expect(try !Store.isEncrypted(at: dir))
        let store = try Store.open(at: dir, cipher: TestCipher.cipher(true))
        #expect(!store.isEncrypted)
        try store.update(id: id, fields: ["killed": 1])
        #expect(try Store.open(at: dir).incident(id: id)?.fields["killed"] == 1)
    }

    /// Nonces drawn in bulk are never handed out twice (across many refills of the buffer).
    @Test func batchedNoncesAreAllDifferent() throws {
        let source = NonceSource()
        var seen = Set<[UInt8]>()
        for _ in 0..<10_000 { seen.insert(Array(try source.next().withUnsafeBytes { Array($0) })) }
        #expect(seen.count == 10_000)
    }

    @Test func aKeyIsThirtyTwoBytes() {
        #expect { try StoreCipher(key: SymmetricKey(size: .bits128)) } throws: { ($0 as? StoreError)?.kind == .invalidValue }
        #expect(StoreCipher.randomKey().bitCount == 256)
        #expect(throws: Never.self) { try StoreCipher(key: StoreCipher.randomKey()) }
        #expect { try Store.isEncrypted(at: "/nonexistent/outpost-store") } throws: { ($0 as? StoreError)?.kind == .missing }
    }

    // MARK: Values moved to another row

    /// A store with two incidents by the same author, and its folder.
    static func twoIncidents(encrypted: Bool) throws -> (Store, String, String, String) {
        let dir = temporaryStoreDirectory()
        let store = try Store.create(
            at: dir, reporter: "alice", settings: ["server_url": "https://a.example", "server_token": "secret"],
            cipher: TestCipher.cipher(encrypted))
        let a = try store.create(fields: ["title": "first"]).record.id
        let b = try store.create(fields: ["title": "second"]).record.id
        return (store, dir, a, b)
    }

    /// Whether `body` fails with a `.storage` error that says the store was tampered with.
    static func failsAsTampered(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as StoreError {
            return error.kind == .storage && error.message.contains("tampered")
        } catch {
            return false
        }
    }

    @Test(arguments: [true, false])
    func aRecordStateMovedToAnotherRowDoesNotOpen(encrypted: Bool) throws {
        let (store, dir, a, b) = try Self.twoIncidents(encrypted: encrypted)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store.db.execute("UPDATE records SET state = (SELECT state FROM records WHERE id = '\(a)') WHERE id = '\(b)'")
        let reopened = try Store.open(at: dir, cipher: TestCipher.cipher(encrypted))
        if encrypted {
            #expect(Self.failsAsTampered { _ = try reopened.incident(id: b) })
            #expect(Self.failsAsTampered { _ = try reopened.incidents() })
            #expect(try reopened.incident(id: a)?.fields["title"] == "first")
        } else {
            // Control: a plaintext store cannot tell, and shows the wrong title.
            #expect(try reopened.incident(id: b)?.fields["title"] == "first")
        }
    }

    @Test(arguments: [true, false])
    func aChangeBodyMovedToAnotherRowDoesNotOpen(encrypted: Bool) throws {
        let (store, dir, _, b) = try Self.twoIncidents(encrypted: encrypted)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store.db.execute(
            "UPDATE changes SET body = (SELECT body FROM changes WHERE counter = 1) WHERE counter = 2 AND replica = 1")
        let reopened = try Store.open(at: dir, cipher: TestCipher.cipher(encrypted))
        if encrypted {
            #expect(Self.failsAsTampered { _ = try reopened.history(id: b) })
            #expect(Self.failsAsTampered { _ = try reopened.changes(missingFrom: SyncSummary()) })
        } else {
            #expect(try reopened.history(id: b).first?.change.writes["title"] == "first")
        }
    }

    @Test func aSettingMovedToAnotherKeyDoesNotOpen() throws {
        let (store, dir, _, _) = try Self.twoIncidents(encrypted: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store.db.execute(
            "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'server_token') WHERE key = 'server_url'")
        let reopened = try Store.open(at: dir, cipher: TestCipher.cipher(true))
        #expect(Self.failsAsTampered { _ = try reopened.setting("server_url") })
        #expect(try reopened.setting("server_token") == "secret")
        // A setting written in the clear into an encrypted store is refused, not believed.
        try store.db.execute("UPDATE meta SET value = 'https://evil.example' WHERE key = 'server_url'")
        #expect(Self.failsAsTampered { _ = try reopened.setting("server_url") })
    }

    @Test func aReporterNameMovedToAnotherReplicaFailsTheOpen() throws {
        let (store, dir, _, _) = try Self.twoIncidents(encrypted: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let other = ReplicaID.random()
        try store.applyRemote([
            TestKeys.signed(
                Change(
                    dot: Dot(replica: other, counter: 1), record: RecordKey(id: "other"), deps: VersionVector(),
                    tag: HLCTag(ms: 1, seq: 0), writes: ["title": "x"], reporter: "mallory"))
        ])
        try store.db.execute("UPDATE replicas SET reporter = (SELECT reporter FROM replicas WHERE idx = 1) WHERE idx = 2")
        #expect(Self.failsAsTampered { _ = try Store.open(at: dir, cipher: TestCipher.cipher(true)) })
    }

    /// An encrypted store whose `cipher` row was removed is not taken for a plaintext one (it
    /// would then take new content in the clear).
    @Test func anEncryptedStoreStrippedOfItsCipherNameIsRefused() throws {
        let (store, dir, _, _) = try Self.twoIncidents(encrypted: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store.db.execute("DELETE FROM meta WHERE key = 'cipher'")
        for cipher in [nil, TestCipher.cipher(true)] {
            #expect {
                try Store.open(at: dir, cipher: cipher)
            } throws: { error in
                (error as? StoreError)?.kind == .encrypted && (error as? StoreError)?.message.contains("tampered") == true
            }
        }
    }

    @Test func aSigningKeyMovedIntoTheKeyCheckFailsAsTheWrongKey() throws {
        let (store, dir, _, _) = try Self.twoIncidents(encrypted: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try store.db.execute(
            "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'signing_key') WHERE key = 'key_check'")
        #expect { try Store.open(at: dir, cipher: TestCipher.cipher(true)) } throws: { ($0 as? StoreError)?.kind == .encrypted }
    }

    // MARK: Encrypted and plaintext stores side by side

    /// Sends what `to` lacks from `from` (as a sync does), returns the report.
    @discardableResult
    static func send(from: Store, to: Store) throws -> ApplyReport {
        try to.applyRemote(
            try from.changes(missingFrom: to.summary(), limit: 100_000, maxBytes: Int.max).changes.map { try $0.change() })
    }

    /// Two stores, one encrypted, edit the same incidents (concurrently, so there are conflicts),
    /// delete and restore, exchange everything both ways, on the encoder thread and off it: they
    /// end with the same states, histories, conflicts and log bodies.
    @Test(arguments: [2, 512])
    func anEncryptedAndAPlaintextStoreConverge(pipelineThreshold: Int) throws {
        let dirs = [temporaryStoreDirectory(), temporaryStoreDirectory()]
        defer { for dir in dirs { try? FileManager.default.removeItem(atPath: dir) } }
        let sealed = try Store.create(at: dirs[0], reporter: "alice", cipher: TestCipher.cipher(true))
        let plain = try Store.create(at: dirs[1], reporter: "bob")
        for store in [sealed, plain] { store.encodingPipelineThreshold = pipelineThreshold }
        let ids = try sealed.importIncidents((0..<20).map { IncidentInput(fields: ["title": .string("incident \($0)")]) })
        try Self.send(from: sealed, to: plain)
        for (i, id) in ids.enumerated() {
            try sealed.update(id: id, fields: ["narrative": .string("alice on \(i)")])
            if i % 2 == 0 { try plain.update(id: id, fields: ["narrative": .string("bob on \(i)")]) }
            if i % 5 == 0 { try plain.delete(id: id) }
        }
        _ = try plain.importIncidents((0..<10).map { IncidentInput(fields: ["title": .string("bob's \($0)")]) })
        try sealed.delete(id: ids[3])
        try Self.send(from: plain, to: sealed)
        try Self.send(from: sealed, to: plain)
        try sealed.restore(id: ids[3])
        try Self.send(from: sealed, to: plain)

        let reopened = try Store.open(at: dirs[0], cipher: TestCipher.cipher(true))
        for store in [sealed, reopened] {
            // Log positions (`updatedSeq`, history order) are each store's own.
            func visible(_ store: Store) throws -> [IncidentRecord] {
                try store.incidents(includeDeleted: true).map {
                    var record = $0; record.updatedSeq = 0; return record
                }
            }
            #expect(try visible(store) == (try visible(plain)))
            #expect(try store.conflicts() == (try plain.conflicts()))
            #expect(try !store.conflicts().isEmpty)
            for id in ids {
                #expect(try store.recordState(id: id) == (try plain.recordState(id: id)))
                #expect(Set(try store.history(id: id)) == Set(try plain.history(id: id)))
            }
            #expect(try store.summary() == (try plain.summary()))
            #expect(try store.reporterNames() == (try plain.reporterNames()))
            let mine = try store.changes(missingFrom: SyncSummary(), limit: 100_000, maxBytes: Int.max).changes
            let theirs = try plain.changes(missingFrom: SyncSummary(), limit: 100_000, maxBytes: Int.max).changes
            #expect(Set(mine.map { [$0.replica.bytes, [0], $0.body] }) == Set(theirs.map { [$0.replica.bytes, [0], $0.body] }))
        }
        // The encrypted store's log holds no body in the clear.
        let clear = try sealed.db.prepare("SELECT count(*) FROM changes WHERE instr(body, 'incident') > 0").first { $0.int(0) }
        #expect(clear == 0)
    }

    /// Held-back changes in an encrypted store wait and are released as in a plaintext one, and
    /// an exact duplicate (its stored body sealed) is still recognised as one.
    @Test func heldBackChangesAndDuplicatesInAnEncryptedStore() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(true))
        let author = ReplicaID.random()
        let chain = (1...600).map { (i: Int) -> Change in
            let deps: [ReplicaID: UInt64] = i == 1 ? [:] : [author: UInt64(i - 1)]
            let writes: [String: JSONValue] = i == 1 ? ["title": "Chain"] : ["killed": .int(Int64(i))]
            return TestKeys.signed(
                Change(
                    dot: Dot(replica: author, counter: UInt64(i)), record: RecordKey(id: "chain"), deps: VersionVector(deps),
                    tag: HLCTag(ms: Int64(i), seq: 0), writes: writes, reporter: "carol"))
        }
        let held = try store.applyRemote(Array(chain.dropFirst().reversed()))
        #expect(held.heldBack == 599 && held.applied == 0)
        let reopened = try Store.open(at: dir, cipher: TestCipher.cipher(true))
        let released = try reopened.applyRemote([chain[0]])
        #expect(released.applied == 600 && released.released == 599)
        #expect(try reopened.incident(id: "chain")?.fields["killed"] == 600)
        // Again, on and off the encoder thread: every one a duplicate.
        #expect(try reopened.applyRemote(chain).duplicates == 600)
        #expect(try reopened.applyRemote([chain[5]]).duplicates == 1)
        // The same dot with other content is still a reused dot, not a duplicate.
        var forged = chain[5]
        forged.writes = ["killed": 99]
        #expect { try reopened.applyRemote([TestKeys.signed(forged)]) } throws: { ($0 as? StoreError)?.kind == .reusedDot }
    }

    /// A store that finds it was copied rotates to a new identity, which is written sealed.
    @Test func aRotatedIdentityIsSealedToo() throws {
        let dir = temporaryStoreDirectory()
        let copyDir = temporaryStoreDirectory()
        defer { for d in [dir, copyDir] { try? FileManager.default.removeItem(atPath: d) } }
        let store = try Store.create(at: dir, reporter: "alice secret name", cipher: TestCipher.cipher(true))
        try store.create(fields: ["title": "t"])
        #expect(try store.checkpointAndTruncate())
        try FileManager.default.createDirectory(atPath: copyDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Store.databasePath(in: dir), toPath: Store.databasePath(in: copyDir))
        let copy = try Store.open(at: copyDir, cipher: TestCipher.cipher(true))
        #expect(copy.replica != store.replica)
        #expect(try copy.previousReplicas() == [store.replica])
        try copy.create(fields: ["title": "after the copy"])
        #expect(try copy.checkpointAndTruncate())
        #expect(try !Self.folderContains(Array("alice secret name".utf8), copyDir))
        #expect(try !Self.folderContains(copy.key.seed, copyDir))
        let again = try Store.open(at: copyDir, cipher: TestCipher.cipher(true))
        #expect(again.replica == copy.replica)
        #expect(try again.reporterNames()[copy.replica] == "alice secret name")
        #expect(try again.authorNames()[copy.replica] == "alice secret name")
    }
}
