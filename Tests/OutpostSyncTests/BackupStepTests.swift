import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// The scenario steps `backup` and `restore_backup` of `conflict-scenarios.md`.
@Suite struct BackupStepTests {
    private func scenario(_ steps: String, expect: String = "{}") -> [UInt8] {
        Array(#"{"name": "t", "replicas": ["alice", "bob"], "steps": [\#(steps)], "expect": \#(expect)}"#.utf8)
    }

    private let create = #"{"at": "alice", "create": {"id": "r1", "fields": {"title": "T"}}}"#

    private func parseError(_ bytes: [UInt8]) -> ScenarioError? {
        do {
            _ = try Scenario.parse(bytes, file: "f.json")
            return nil
        } catch { return error }
    }

    private func run(_ steps: String, expect: String) async throws -> ScenarioOutcome {
        try await ScenarioRunner(temporaryRoot: testRoot).run(try Scenario.parse(scenario(steps, expect: expect), file: "t.json"))
    }

    @Test func stepsAreParsedStrictly() throws {
        let parsed = try Scenario.parse(
            scenario(
                #"\#(create), {"backup": {"replica": "alice", "as": "monday"}}, {"restore_backup": {"replica": "alice", "from": "monday"}}"#
            ), file: "f.json")
        #expect(
            Array(parsed.steps.dropFirst()) == [
                .backup(replica: "alice", name: "monday"), .restoreBackup(replica: "alice", name: "monday"),
            ])
        let backup = #"{"backup": {"replica": "alice", "as": "monday"}}"#
        let cases: [(String, Int, String)] = [
            (#"{"backup": {"replica": "carol", "as": "monday"}}"#, 0, "backup.replica names unknown replica \"carol\""),
            (#"{"backup": {"replica": "alice"}}"#, 0, "\"backup\" lacks \"as\""),
            (#"{"backup": {"as": "monday"}}"#, 0, "\"backup\" lacks \"replica\""),
            (#"{"backup": {"replica": "alice", "as": ""}}"#, 0, "backup.as must be a non-empty name"),
            (#"{"backup": {"replica": "alice", "as": 7}}"#, 0, "backup.as must be a string"),
            (#"{"backup": {"replica": "alice", "as": "m", "to": "bob"}}"#, 0, "unknown key \"to\" in \"backup\""),
            (#"{"backup": "alice"}"#, 0, "\"backup\" must be a JSON object"),
            (#"{"at": "alice", "backup": {"replica": "alice", "as": "m"}}"#, 0, "\"at\" and \"clock\" belong to"),
            (#"\#(backup), \#(backup)"#, 1, "backup.as \"monday\" is already the name of the backup made in steps[0]"),
            (#"{"restore_backup": {"replica": "alice"}}"#, 0, "\"restore_backup\" lacks \"from\""),
            (
                #"{"restore_backup": {"replica": "dave", "from": "monday"}}"#, 0,
                "restore_backup.replica names unknown replica \"dave\""
            ),
            (
                #"{"restore_backup": {"replica": "alice", "from": "monday"}}"#, 0,
                "restore_backup.from names unknown backup \"monday\" (no earlier backup step makes it; none is made before this step)"
            ),
            (
                #"\#(backup), {"restore_backup": {"replica": "alice", "from": "tuesday"}}"#, 1,
                "restore_backup.from names unknown backup \"tuesday\" (no earlier backup step makes it; made before this step: \"monday\")"
            ),
            (
                #"\#(backup), {"restore_backup": {"replica": "bob", "from": "monday"}}"#, 1,
                "restore_backup.from names backup \"monday\" of replica \"alice\", not of \"bob\""
            ),
            // Names are compared byte-wise: the NFD spelling of an NFC name is another name.
            (
                #"{"backup": {"replica": "alice", "as": "S\u00e9gou"}}, {"restore_backup": {"replica": "alice", "from": "Se\u0301gou"}}"#,
                1, "names unknown backup"
            ),
        ]
        for (steps, index, message) in cases {
            let error = parseError(scenario(steps))
            #expect(error?.step == index && error?.message.contains(message) == true, "\(steps): \(String(describing: error))")
            #expect(error?.description.contains("f.json: steps[\(index)]") == true)
        }
    }

    /// Each malformed corpus file about these steps is refused at the step it names, saying why.
    @Test func malformedCorpusFilesSayWhatIsWrong() throws {
        let expected: [String: (step: Int, mention: String)] = [
            "04-restore-from-unknown-backup.json": (2, "restore_backup.from names unknown backup \"tuesday\""),
            "05-backup-lacks-as.json": (1, "\"backup\" lacks \"as\""),
            "06-restore-backup-lacks-from.json": (2, "\"restore_backup\" lacks \"from\""),
            "07-backup-of-unknown-replica.json": (1, "backup.replica names unknown replica \"mallory\""),
            "08-restore-another-replicas-backup.json": (3, "of replica \"server\", not of \"alice\""),
            "09-restore-backup-made-later.json": (1, "restore_backup.from names unknown backup \"monday\""),
        ]
        let files = try resourceFiles("MalformedScenarios")
        for (name, want) in expected {
            let path = try #require(files.first { ($0 as NSString).lastPathComponent == name }, "\(name) is missing")
            #expect {
                try Scenario.load(path: path)
            } throws: { error in
                guard let e = error as? ScenarioError else { return false }
                return e.file == path && e.step == want.step && e.message.contains(want.mention)
            }
        }
    }

    /// A restore brings back the copy's state: a record alice made after the backup, which no
    /// one else got, is gone at alice; one bob got stays at bob. Without the restore both stay
    /// (the positive control). Alice's store goes on working after it.
    @Test func aRestoreBringsBackTheOldState() async throws {
        let before = #"""
            {"at": "alice", "clock": "2026-03-01T10:00:00Z", "create": {"id": "r1", "fields": {"title": "Before", "killed": 1}}},
            {"backup": {"replica": "alice", "as": "monday"}},
            {"at": "alice", "create": {"id": "r2", "fields": {"title": "Kept by bob"}}},
            {"sync": ["alice", "bob"]},
            {"at": "alice", "create": {"id": "r3", "fields": {"title": "Only at alice"}}},
            {"at": "alice", "update": {"id": "r1", "fields": {"killed": 2}}}
            """#
        let restored = try await run(
            before + #", {"restore_backup": {"replica": "alice", "from": "monday"}}"#
                + #", {"at": "alice", "create": {"id": "r4", "fields": {"title": "After the restore"}}}"#,
            expect:
                #"{"converged": ["alice"], "records": {"r1": {"title": "Before", "killed": 1}, "r2": null, "r3": null, "r4": {"title": "After the restore"}}}"#
        )
        #expect(restored.pass, "\(restored.failures)")
        #expect(restored.replicas["bob"]?.records["r2"] != nil)
        #expect(restored.replicas["bob"]?.records["r3"] == nil)

        let control = try await run(
            before,
            expect:
                #"{"converged": ["alice"], "records": {"r1": {"title": "Before", "killed": 2}, "r2": {"title": "Kept by bob"}, "r3": {"title": "Only at alice"}}}"#
        )
        #expect(control.pass, "\(control.failures)")
    }

    /// The copy is written over the store's own file: the same file identity as before, the
    /// store's recorded identity still matches, the old WAL is gone, and the state is the copy's.
    @Test func theCopyIsWrittenOverTheSameFile() throws {
        let root = temporaryPath("restore")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/alice"
        let path = Store.databasePath(in: directory)
        var backups = ScenarioBackups(folder: root + "/backups")
        var stores: [String: Store] = [:]
        do {
            let store = try Store.create(at: directory, reporter: "alice", replica: ReplicaID(bytes: Array("alice".utf8)))
            try store.recordFileIdentity(try #require(Store.fileIdentity(ofDatabaseAt: path)))
            _ = try store.create(id: "r1", fields: ["title": "In the copy"], wallMs: 1)
            try backups.make("monday", of: store)
            _ = try store.create(id: "r2", fields: ["title": "After the copy"], wallMs: 2)
            stores["alice"] = store
        }
        let identity = Store.fileIdentity(ofDatabaseAt: path)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        // The copy is a file of its own: it would not pass for the store's file.
        #expect(Store.fileIdentity(ofDatabaseAt: root + "/backups/backup-0.db") != identity)

        try backups.restore("monday", into: &stores, replica: "alice")
        #expect(Store.fileIdentity(ofDatabaseAt: path) == identity)
        let store = try #require(stores["alice"])
        #expect(try store.recordedFileIdentity() == identity)
        #expect(store.currentFileIdentity == identity)
        #expect(try store.incidents().map(\.id) == ["r1"])
        #expect(try store.ownChangeCount == 1)
        #expect(try integrityCheck(path) == "ok")
    }

    /// A store someone still holds is not written over: the restore refuses and leaves it open.
    @Test func aStoreStillInUseIsNotRestored() throws {
        let root = temporaryPath("in-use")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var backups = ScenarioBackups(folder: root + "/backups")
        let store = try Store.create(at: root + "/alice", reporter: "alice")
        _ = try store.create(id: "r1", fields: ["title": "T"], wallMs: 1)
        try backups.make("monday", of: store)
        _ = try store.create(id: "r2", fields: ["title": "U"], wallMs: 2)
        var stores = ["alice": store]
        #expect(throws: StoreError.self) { try backups.restore("monday", into: &stores, replica: "alice") }
        #expect(stores["alice"] === store)
        #expect(try store.incidents().count == 2)
    }

    private func integrityCheck(_ path: String) throws -> String? {
        try Database(path: path, create: false).prepare("PRAGMA integrity_check").first { $0.text(0) } ?? nil
    }
}
