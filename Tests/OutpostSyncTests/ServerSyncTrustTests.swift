import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// A sync server in this process, answering `POST /v1/sync` as TRUST-PLAN.md describes, over a
/// real store with the server's trust policy: binding checked on every request that carries one,
/// pushes verified against its roster (a refused batch throws, as a 422 would), pulls that skip
/// the pulling replica's own changes and name the change their position points at, the roster
/// newer than `roster_after`, and the summary when asked. Requests go through their JSON form.
final class InProcessServer: @unchecked Sendable {
    // @unchecked Sendable: `store` is a thread-safe Store; `roster`, `requests` and `bound` are
    // only touched while holding `lock`.
    private let lock = NSLock()
    private(set) var store: Store
    let rosterKey: DeviceKey
    private var roster: [RosterEntry] = []
    private var requests: [ServerSyncRequest] = []
    private var resetCount = 0
    /// Token → replica bound by a valid binding.
    private var bound: [String: ReplicaID] = [:]
    let folder: String

    init(label: String, rosterKey: DeviceKey = DeviceKey()) throws {
        folder = temporaryPath("server-\(label)")
        self.rosterKey = rosterKey
        store = try Store.create(at: folder + "/0", reporter: "server")
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    /// Enrolls a device by its key (as `outpost-server enroll --replica --key`); returns the entry.
    @discardableResult
    func enroll(_ device: Store, reporter: String) throws -> RosterEntry {
        try enroll(replica: device.replica, key: device.publicKey, reporter: reporter)
    }

    private func enroll(replica: ReplicaID, key: [UInt8], reporter: String) throws -> RosterEntry {
        try lock.withLock {
            let entry = RosterEntry(
                replica: replica, key: key, reporter: reporter, status: .active, version: UInt64(roster.count + 1)
            ).signed(by: rosterKey)
            roster.append(entry)
            try store.trust([entry])
            return entry
        }
    }

    /// How many pulls were answered with `cursor_reset`.
    var resets: Int { lock.withLock { resetCount } }

    /// Every request received so far.
    var received: [ServerSyncRequest] { lock.withLock { requests } }

    /// Goes back to a copy holding only `changes` (a restore from an older backup): a new log,
    /// so old pull positions name other changes or none.
    func restore(from changes: [Change]) throws {
        let next = try Store.create(at: folder + "/\(UUID().uuidString)", reporter: "server")
        try next.trust(lock.withLock { roster })
        try next.applyRemote(changes, trust: .server)
        lock.withLock { store = next }
    }

    /// A link for one device token.
    func link(token: String) -> InProcessLink { InProcessLink(server: self, token: token) }

    func answer(_ sent: ServerSyncRequest, token: String) throws -> ServerSyncResponse {
        let request = try ServerSyncRequest.decode(try JSONParser.parse(sent.encoded()))
        lock.withLock { requests.append(request) }
        if let key = request.key, let bind = request.bind {
            guard ReplicaID.derived(fromPublicKey: key) == request.replica,
                SignatureCheck.isValid(bind, of: Store.bindingMessage(replica: request.replica, token: token), publicKey: key)
            else { throw ServerLinkError(.forbidden, "bad_binding") }
            lock.withLock { bound[token] = request.replica }
            // A first sync registers the replica and its key (a restored device's new one too).
            if !lock.withLock({ roster.contains { $0.replica == request.replica } }) {
                _ = try enroll(replica: request.replica, key: key, reporter: request.reporter ?? "unknown")
            }
        }
        let store = lock.withLock { self.store }
        try store.applyRemote(request.changes, trust: .server)
        var response = ServerSyncResponse(
            serverTimeMs: store.systemClock(), ackedCounter: try store.contiguousCounter(of: request.replica), applied: 0,
            duplicates: 0, heldBack: 0, changes: [], cursor: request.pullAfter, more: false)
        if request.pullLimit > 0 {
            var after = request.pullAfter
            if let dot = request.pullAfterDot, try self.dot(at: after, in: store) != dot {
                after = 0
                response.cursorReset = true
                lock.withLock { resetCount += 1 }
            }
            let (stored, next) = try store.changes(afterSeq: after, excluding: request.replica, limit: request.pullLimit)
            response.changes = try stored.map { try $0.change() }
            response.cursor = next
            response.more = next < (try store.lastSeq())
            response.cursorDot = try dot(at: response.cursor, in: store)
        }
        response.rosterKey = rosterKey.publicKey
        response.roster = lock.withLock { roster.filter { $0.version > request.rosterAfter ?? 0 } }
        if request.wantsSummary { response.summary = try store.summary() }
        return try ServerSyncResponse.decode(try JSONParser.parse(response.encoded()))
    }

    /// The change at log position `seq`.
    private func dot(at seq: Int64, in store: Store) throws -> Dot? {
        guard seq > 0 else { return nil }
        let (stored, _) = try store.changes(missingFrom: SyncSummary(), afterSeq: seq - 1, limit: 1)
        return stored.first.flatMap { $0.seq == seq ? Dot(replica: $0.replica, counter: $0.counter) : nil }
    }
}

/// One device's link to an `InProcessServer`.
struct InProcessLink: ServerLink {
    let server: InProcessServer
    let token: String

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        try server.answer(request, token: token)
    }
}

/// A link that loses the answer to its `loseAnswer`-th request (the server has committed it).
struct LosingLink: ServerLink {
    let inner: InProcessLink
    let loseAnswer: Int
    let counter = Counter()

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        let answer = try await inner.exchange(request)
        if counter.next() == loseAnswer { throw LinkDropped() }
        return answer
    }
}

/// Counts calls: 1 for the first.
final class Counter: @unchecked Sendable {
    // @unchecked Sendable: `count` is only touched while holding `lock`.
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.withLock {
            count += 1; return count
        }
    }
}

/// The incidents and their visible fields.
func visible(_ store: Store) throws -> [String: [String: JSONValue]] {
    Dictionary(uniqueKeysWithValues: try store.incidents().map { ($0.id, $0.fields) })
}

@Suite struct ServerSyncTrustTests {
    /// Bob is enrolled by his key and never syncs; his work reaches Alice device-to-device before
    /// she ever synced (so it is unverified at her). Her first sync pins the roster key, learns
    /// the roster (Bob's changes verify), binds her key to her token, and relays Bob's work.
    @Test func aFirstSyncBindsPinsVerifiesAndRelays() async throws {
        let r = try Reporters("relay")
        let server = try InProcessServer(label: "relay")
        let aliceEntry = try server.enroll(r.alice, reporter: "alice")
        let bobEntry = try server.enroll(r.bob, reporter: "bob")
        // Bob knows from the roster that Alice is in his team (teams: else he gives her nothing in the clear).
        try r.bob.acceptRoster([aliceEntry, bobEntry], rosterKey: server.rosterKey.publicKey)
        for i in 0..<3 { try r.bob.create(id: "b\(i)", fields: ["title": .string("Market fire \(i)")]) }
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        _ = try await SyncSession().run(StoreTransport(store: r.alice), StoreTransport(store: r.bob))
        #expect(try r.alice.attributedHistory(id: "b0").map(\.verified) == [nil])
        // Alice builds on Bob's work: her edit depends on his create.
        try r.alice.update(id: "b0", fields: ["injured": 4])

        let report = try await ServerSyncClient(store: r.alice, link: server.link(token: "alice-token"), token: "alice-token")
            .run()
        #expect(report.sent == 2 && report.relayed == 3 && report.refused.isEmpty)
        #expect(try r.alice.rosterKey() == server.rosterKey.publicKey)
        #expect(try r.alice.attributedHistory(id: "b0").map(\.verified) == [true, true])
        #expect(try r.alice.attributedHistory(id: "b0").map(\.author) == ["bob", "alice"])
        #expect(try visible(server.store) == visible(r.alice))
        #expect(try server.store.incident(id: "b0")?.fields["injured"] == 4)
        #expect(try server.store.status().heldBackChanges == 0)
        let first = try #require(server.received.first)
        #expect(first.wantsSummary && first.changeCount == 0 && first.rosterAfter == 0)
        #expect(first.key == r.alice.publicKey && first.bind != nil)
        #expect(server.received.dropFirst().allSatisfy { !$0.wantsSummary && $0.key == r.alice.publicKey })

        // Nothing is relayed twice, and the roster is not sent again.
        let again = try await ServerSyncClient(store: r.alice, link: server.link(token: "alice-token"), token: "alice-token")
            .run()
        #expect(again.sent == 0 && again.relayed == 0)
        #expect(server.received.last?.rosterAfter == 2)
    }

    /// The copy is written back over the store in place and edits before it syncs, so its next dot
    /// reuses one the server holds, at a counter the server's summary does not exceed. The sync
    /// finds the restore (the server holds own changes this store never sent), continues under a
    /// new replica, and every edit of both phases ends up at the device and the server. Needs the
    /// store's settlement of two versions of one dot (`trust.md`, "Restored stores"; on main, where
    /// this test passes, and fails with the old rule "beyond its counter").
    @Test(.disabled("needs the store's settlement of two versions of one dot (restore branch, on main): enable at merge"))
    func aRestoredDeviceThatEditedBeforeSyncingLosesNothing() async throws {
        let r = try Reporters("restored-edited")
        let server = try InProcessServer(label: "restored-edited")
        let folder = r.root + "/alice-device"
        var alice: Store? = try Store.create(at: folder, reporter: "alice")
        let original = alice!.replica
        try alice!.create(id: "a0", fields: ["title": "Flood"])
        _ = try await ServerSyncClient(store: alice!, link: server.link(token: "a"), token: "a").run()
        alice = nil  // closed, as between two commands
        let files = ["outpost.db", "outpost.db-wal", "outpost.db-shm"].map { (folder as NSString).appendingPathComponent($0) }
        let copy = files.map { FileManager.default.contents(atPath: $0) }
        alice = try Store.open(at: folder)
        try alice!.update(id: "a0", fields: ["killed": 3])
        _ = try await ServerSyncClient(store: alice!, link: server.link(token: "a"), token: "a").run()
        alice = nil
        // Written back over the store in place (the same file, so its identity does not tell).
        for (path, bytes) in zip(files, copy) {
            if let bytes {
                if !FileManager.default.fileExists(atPath: path) {
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.truncate(atOffset: 0)
                try handle.write(contentsOf: bytes)
                try handle.close()
            } else {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let restored = try Store.open(at: folder)
        #expect(restored.replica == original)
        try restored.update(id: "a0", fields: ["injured": 5])
        _ = try await ServerSyncClient(store: restored, link: server.link(token: "a"), token: "a").run()
        _ = try await ServerSyncClient(store: restored, link: server.link(token: "a"), token: "a").run()
        #expect(restored.replica != original)
        for store in [restored, server.store] {
            let fields = try #require(try store.incident(id: "a0")).fields
            #expect(fields["killed"] == 3 && fields["injured"] == 5)
        }
    }

    /// Own changes the server holds beyond its acknowledgement are no sign of a restore when this
    /// store sent them: an answer lost after the server committed, or a bundle another reporter
    /// relayed. The replica stays.
    @Test func ownChangesThatLeftThisStoreAreNoSignOfARestore() async throws {
        let r = try Reporters("no-restore")
        let server = try InProcessServer(label: "no-restore")
        try server.enroll(r.alice, reporter: "alice")
        try server.enroll(r.bob, reporter: "bob")
        let replica = r.bob.replica
        try r.bob.create(id: "b0", fields: ["title": "Fire"])
        _ = try await ServerSyncClient(store: r.bob, link: server.link(token: "b"), token: "b").run()
        // An answer lost on the way back: the server holds b:2, Bob's acknowledgement says 1.
        try r.bob.create(id: "b1", fields: ["title": "Smoke"])
        await #expect(throws: LinkDropped.self) {
            try await ServerSyncClient(store: r.bob, link: LosingLink(inner: server.link(token: "b"), loseAnswer: 2), token: "b")
                .run()
        }
        #expect(try server.store.incident(id: "b1") != nil)
        #expect(try r.bob.integerSetting(ServerSyncClient.ackedCounterKey) == 1)
        // A bundle Alice relays: the server holds b:3 that Bob never sent it.
        try r.bob.create(id: "b2", fields: ["title": "Ash"])
        _ = try r.alice.applyBundle(try r.bob.bundle().file)
        _ = try await ServerSyncClient(store: r.alice, link: server.link(token: "a"), token: "a").run()
        #expect(try server.store.incident(id: "b2") != nil)
        let report = try await ServerSyncClient(store: r.bob, link: server.link(token: "b"), token: "b").run()
        #expect(report.restoredFrom == nil && r.bob.replica == replica)
        #expect(try r.bob.status().unsyncedChanges == 0)
    }

    /// The hole of issue 12: a bundle of forged "own" changes (Alice's replica, counters above
    /// hers, another key) made her later work vanish from sync. They are refused, and her later
    /// work is counted unsynced and reaches the server.
    @Test func forgedOwnChangesDoNotHideLaterWorkFromTheServer() async throws {
        let r = try Reporters("forged-sync")
        let server = try InProcessServer(label: "forged-sync")
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        _ = try await ServerSyncClient(store: r.alice, link: server.link(token: "a"), token: "a").run()
        let mallory = DeviceKey()
        let forged = (2...11).map { counter in
            mallory.signed(
                Change(
                    dot: Dot(replica: r.alice.replica, counter: UInt64(counter)), record: RecordKey(id: "f\(counter)"),
                    deps: VersionVector(), tag: HLCTag(ms: 1_700_000_000_000, seq: UInt32(counter)),
                    writes: ["title": .string("Forged \(counter)")], reporter: "alice"))
        }
        let file = try BundleFile.encode(
            changes: forged.map {
                StoredChange(seq: 0, replica: $0.dot.replica, counter: $0.dot.counter, body: $0.encodedJSON())
            },
            replica: r.bob.replica, reporter: "mallory", createdMs: 0)
        #expect(try r.alice.applyBundle(file).refused.count == 10)
        try r.alice.create(id: "a1", fields: ["title": "Landslide"])
        #expect(try r.alice.status().unsyncedChanges == 1)
        let report = try await ServerSyncClient(store: r.alice, link: server.link(token: "a"), token: "a").run()
        #expect(report.sent == 1 && report.restoredFrom == nil)
        #expect(try server.store.incident(id: "a1")?.fields["title"] == "Landslide")
        #expect(try server.store.incident(id: "f2") == nil)
        #expect(try r.alice.status().unsyncedChanges == 0)
    }

    /// The binding covers the token's hash: one made for another token does not bind (the
    /// server refuses it), the right one does (control).
    @Test func aBindingIsGoodForItsOwnTokenOnly() async throws {
        let r = try Reporters("binding")
        let server = try InProcessServer(label: "binding")
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        await #expect(throws: ServerLinkError.self) {
            try await ServerSyncClient(store: r.alice, link: server.link(token: "right"), token: "wrong").run()
        }
        #expect(try server.store.incident(id: "a0") == nil)
        _ = try await ServerSyncClient(store: r.alice, link: server.link(token: "right"), token: "right").run()
        #expect(try server.store.incident(id: "a0") != nil)
    }

    /// Carol is not enrolled: her changes reach Alice unverified and are never pushed (the server
    /// would refuse the batch); everything else syncs.
    @Test func unverifiedChangesAreNeverPushed() async throws {
        let r = try Reporters("unverified")
        let server = try InProcessServer(label: "unverified")
        try server.enroll(r.alice, reporter: "alice")
        try r.carol.create(id: "c0", fields: ["title": "Checkpoint"])
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        _ = try await SyncSession().send(from: StoreTransport(store: r.carol), to: StoreTransport(store: r.alice))
        let report = try await ServerSyncClient(store: r.alice, link: server.link(token: "t"), token: "t").run()
        #expect(report.sent == 1 && report.relayed == 0)
        #expect(try server.store.incident(id: "c0") == nil)
        #expect(try server.store.incident(id: "a0") != nil)
        #expect(server.received.allSatisfy { $0.changes.allSatisfy { $0.dot.replica == r.alice.replica } })
        #expect(try r.alice.unverifiedIncidentIDs() == ["c0"])
    }

    /// A server whose roster key is not the one the device pinned is refused: the sync fails with
    /// a message saying so, and the pinned key stays.
    @Test func aDifferentRosterKeyFailsTheSync() async throws {
        let r = try Reporters("pinned")
        let pinned = DeviceKey()
        try r.alice.pinRosterKey(pinned.publicKey)
        let server = try InProcessServer(label: "pinned")
        try server.enroll(r.alice, reporter: "alice")
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        await #expect {
            try await ServerSyncClient(store: r.alice, link: server.link(token: "t"), token: "t").run()
        } throws: { error in
            (error as? StoreError)?.message.contains("not the one this device pinned") == true
        }
        #expect(try r.alice.rosterKey() == pinned.publicKey)
        #expect(try server.store.incident(id: "a0") == nil)
    }

    /// The server goes back to an older backup while devices keep working. Alice's next sync
    /// re-sends her own changes it lost (her acknowledged counter was past them) and relays Bob's;
    /// Bob's pull position names a change the restored log does not hold there, so he pulls again
    /// from the start. Then a new reporter pulls everything.
    @Test func aRestoredServerGetsBackEverythingItLost() async throws {
        let r = try Reporters("restored-server")
        let server = try InProcessServer(label: "restored-server")
        try server.enroll(r.alice, reporter: "alice")
        try server.enroll(r.bob, reporter: "bob")
        try server.enroll(r.carol, reporter: "carol")
        let alice = ServerSyncClient(store: r.alice, link: server.link(token: "a"), token: "a")
        let bob = ServerSyncClient(store: r.bob, link: server.link(token: "b"), token: "b")
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        try r.bob.create(id: "b0", fields: ["title": "Fire"])
        _ = try await alice.run()
        _ = try await bob.run()
        let backup = try allChanges(server.store)
        try r.alice.update(id: "a0", fields: ["killed": 2])
        try r.alice.create(id: "a1", fields: ["title": "Landslide"])
        try r.bob.create(id: "b1", fields: ["title": "Ambush"])
        _ = try await alice.run()
        _ = try await bob.run()
        _ = try await alice.run()
        #expect(try r.alice.status().unsyncedChanges == 0)
        #expect(try visible(r.alice) == visible(r.bob))

        try server.restore(from: backup)
        #expect(try server.store.incident(id: "a1") == nil)
        // Carol's first change moves every later position of the restored log.
        try r.carol.create(id: "c0", fields: ["title": "Drought"])
        _ = try await ServerSyncClient(store: r.carol, link: server.link(token: "c"), token: "c").run()
        try r.alice.create(id: "a2", fields: ["title": "Bridge out"])
        let back = try await alice.run()
        #expect(back.sent == 3)
        #expect(back.relayed == 1)
        #expect(try r.alice.status().unsyncedChanges == 0)
        try r.bob.update(id: "b1", fields: ["injured": 1])
        let resets = server.resets
        let bobBack = try await bob.run()
        #expect(server.resets == resets + 1)
        #expect(bobBack.sent == 1)
        #expect(try visible(r.bob)["a2"]?["title"] == "Bridge out")
        _ = try await alice.run()
        #expect(try visible(r.bob) == visible(r.alice))

        let newcomer = try Store.create(at: r.root + "/dave", reporter: "dave")
        try server.enroll(newcomer, reporter: "dave")
        _ = try await ServerSyncClient(store: newcomer, link: server.link(token: "d"), token: "d").run()
        #expect(try visible(newcomer) == visible(r.alice))
        #expect(try visible(newcomer).count == 6)
    }

    /// A device whose store goes back to an older copy of itself learns from the server's summary
    /// that the server holds changes of its replica it lacks: it continues under a new replica
    /// (its edits made under the old one are not pushed as reused dots), and its new work arrives.
    @Test func aRestoredDeviceContinuesUnderANewReplica() async throws {
        let r = try Reporters("restored-device")
        let server = try InProcessServer(label: "restored-device")
        try server.enroll(r.alice, reporter: "alice")
        let folder = r.root + "/alice"
        let original = r.alice.replica
        try r.alice.create(id: "a0", fields: ["title": "Flood"])
        _ = try await ServerSyncClient(store: r.alice, link: server.link(token: "a"), token: "a").run()
        let copy = r.root + "/alice-copy"
        try FileManager.default.copyItem(atPath: folder, toPath: copy)
        try r.alice.update(id: "a0", fields: ["killed": 3])
        try r.alice.create(id: "a1", fields: ["title": "Landslide"])
        _ = try await ServerSyncClient(store: r.alice, link: server.link(token: "a"), token: "a").run()

        let restored = try Store.open(at: copy)
        _ = try await ServerSyncClient(store: restored, link: server.link(token: "a"), token: "a").run()
        #expect(restored.replica != original)
        #expect(try restored.previousReplicas().contains(original))
        try restored.create(id: "a2", fields: ["title": "Bridge out"])
        _ = try await ServerSyncClient(store: restored, link: server.link(token: "a"), token: "a").run()
        #expect(try server.store.incident(id: "a2")?.fields["title"] == "Bridge out")
        #expect(try restored.incident(id: "a1")?.fields["title"] == "Landslide")
        #expect(try restored.incident(id: "a0")?.fields["killed"] == 3)
        #expect(try restored.status().unsyncedChanges == 0)
    }
}

@Suite struct RelayNeedTests {
    /// The check that skips reading the log when the server lacks nothing of other authors.
    @Test func holdsMoreFindsExactlyWhatTheServerLacks() {
        let own = ReplicaID(bytes: [1]), bob = ReplicaID(bytes: [2])
        func summary(_ entries: [ReplicaID: (UInt64, Set<UInt64>)]) -> SyncSummary {
            SyncSummary(entries: entries.mapValues { SyncSummary.Entry(contiguous: $0.0, extra: $0.1) })
        }
        let check = ServerSyncClient.holdsMore
        #expect(!check(summary([own: (5, [])]), summary([:]), own))
        #expect(!check(summary([bob: (3, [])]), summary([bob: (3, [])]), own))
        #expect(!check(summary([bob: (3, [])]), summary([bob: (1, [2, 3])]), own))
        #expect(!check(summary([bob: (1, [4])]), summary([bob: (4, [])]), own))
        #expect(check(summary([bob: (3, [])]), summary([bob: (2, [])]), own))
        #expect(check(summary([bob: (3, [])]), summary([bob: (1, [3, 7])]), own))
        #expect(check(summary([bob: (1, [4])]), summary([bob: (1, [5])]), own))
        #expect(check(summary([bob: (1, [])]), summary([:]), own))
    }
}
