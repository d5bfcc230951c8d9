import Foundation
import OutpostCore
import OutpostTestSupport
import Testing

/// Real `outpost-server` and `outpost` processes on 127.0.0.1: reporters and the server, end to end.
@Suite("end to end", .serialized)
struct EndToEndTests {
    /// A running server with enrolled reporters and their stores.
    final class World {
        let folder = TemporaryFolder()
        var server: ServerProcess
        var tokens: [String: String] = [:]

        init(reporters: [String]) throws {
            let db = folder.sub("server.db")
            for name in reporters {
                tokens[name] = try World.enroll(db: db, name: name, role: "reporter")
            }
            tokens["desk"] = try World.enroll(db: db, name: "desk", role: "analyst")
            server = try ServerProcess(db: db, log: folder.sub("server.log"))
            for name in reporters {
                try ok(name, ["init", "--reporter", name, "--server", server.url, "--token=" + tokens[name]!])
            }
        }

        static func enroll(db: String, name: String, role: String) throws -> String {
            let r = try run(Binaries.server, ["enroll", "--db", db, "--reporter", name, "--role", role])
            guard r.status == 0 else { throw HarnessError("enroll \(name) failed: \(r.stderr)") }
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func store(_ name: String) -> String { folder.sub(name) }

        /// Runs `outpost` for a reporter.
        @discardableResult
        func outpost(_ name: String, _ arguments: [String], input: String? = nil) throws -> ProcessResult {
            try run(Binaries.outpost, ["--store", store(name)] + arguments, input: input)
        }

        /// Runs `outpost` and requires success; returns stdout.
        @discardableResult
        func ok(_ name: String, _ arguments: [String]) throws -> String {
            let r = try outpost(name, arguments)
            guard r.status == 0 else {
                throw HarnessError("\(name): outpost \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
            }
            return r.stdout
        }

        func json(_ name: String, _ arguments: [String]) throws -> JSONValue {
            try JSONParser.parse(Array(try ok(name, arguments).utf8))
        }

        /// How many `/v1/sync` requests the server has logged.
        var syncRequests: Int {
            ((try? String(contentsOfFile: folder.sub("server.log"), encoding: .utf8)) ?? "")
                .components(separatedBy: "/v1/sync").count - 1
        }

        /// Starts `outpost sync` for a reporter and returns once the server has logged `afterRequests` sync requests.
        func startSync(_ name: String, _ arguments: [String], afterRequests: Int, stderr: Any) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Binaries.outpost)
            process.arguments = ["--store", store(name), "sync"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(TestPassphrase.environment) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = stderr
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while syncRequests < afterRequests && process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            return process
        }

        /// Writes `count` incidents as NDJSON and returns the file.
        func incidents(_ count: Int, prefix: String) -> String {
            var text = ""
            for i in 0..<count {
                text +=
                    #"{"id":"\#(prefix)-\#(i)","title":"Report \#(i) from \#(prefix)","killed":\#(i % 9),"lat":16.2\#(i % 10),"lon":-0.0\#(i % 10)}"#
                    + "\n"
            }
            let path = folder.sub("\(prefix).ndjson")
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            return path
        }
    }

    @Test func twoReportersAndTheServerConvergeThroughConflictsAndDeletes() throws {
        let world = try World(reporters: ["alice", "bob"])
        let market = try world.ok("alice", ["new", "--title", "Market attack", "--killed", "3", "--place-name", "Gao"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let camp = try world.ok("alice", ["new", "--title", "Camp raided", "--injured", "4"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let first = try world.json("alice", ["sync", "--json"])
        #expect(first["sent"] == 2)
        #expect(try world.json("bob", ["sync", "--json"])["received"] == 2)

        // Both edit the same field offline; alice deletes the camp report while bob edits it.
        try world.ok("alice", ["edit", market, "--killed", "4"])
        try world.ok("bob", ["edit", market, "--killed", "5", "--injured", "11"])
        try world.ok("alice", ["delete", camp])
        try world.ok("bob", ["edit", camp, "--injured", "9"])
        try world.ok("alice", ["sync"])
        let bobSync = try world.ok("bob", ["sync"])
        #expect(bobSync.contains("sent 2, received 2"))
        try world.ok("alice", ["sync"])

        let aliceList = try world.json("alice", ["list", "--json"])
        let bobList = try world.json("bob", ["list", "--json"])
        #expect(aliceList == bobList)
        #expect(aliceList.arrayValue?.count == 2, "bob's unseen edit keeps the camp report alive")
        #expect(try world.json("alice", ["conflicts", "--json"]) == world.json("bob", ["conflicts", "--json"]))
        let conflicts = try world.json("alice", ["conflicts", "--json"]).arrayValue ?? []
        let killed = conflicts.first { $0["id"] == .string(market) }?["fields"]?["killed"]?.arrayValue?.compactMap { $0["value"] }
        #expect(killed?.count == 2)
        #expect(conflicts.contains { $0["id"] == .string(camp) && $0["kept_alive_by_concurrent_edit"] == true })

        // Alice resolves and deletes again having seen bob's edit: everyone converges on that.
        try world.ok("alice", ["resolve", market, "killed", "--value", "5"])
        try world.ok("alice", ["delete", camp])
        try world.ok("alice", ["sync"])
        try world.ok("bob", ["sync"])
        #expect(try world.json("bob", ["list", "--json"]) == world.json("alice", ["list", "--json"]))
        #expect(try world.json("bob", ["conflicts", "--json"]) == .array([]))
        #expect(try world.json("bob", ["list", "--json"]).arrayValue?.count == 1)

        // The analyst's export from the server holds the same visible reports.
        let export = try run(Binaries.server, ["export", "--db", world.server.db, "--format", "ndjson"])
        #expect(export.status == 0)
        let lines = export.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(export.stdout.contains(market))
        #expect(!export.stdout.contains(camp))
    }

    @Test func aSyncKilledMidTransferLosesAndDuplicatesNothing() throws {
        let world = try World(reporters: ["alice", "bob"])
        let file = world.incidents(3000, prefix: "a")
        try world.ok("alice", ["import", file])
        let process = try world.startSync("alice", ["--batch-size", "25"], afterRequests: 4, stderr: FileHandle.nullDevice)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let partial = try world.json("alice", ["status", "--json"])
        #expect((partial["unsynced_changes"]?.intValue ?? 0) < 3000, "some batches were acknowledged before the kill")

        let again = try world.json("alice", ["sync", "--json"])
        #expect(try world.json("alice", ["status", "--json"])["unsynced_changes"] == 0)
        // Batches the server committed before the kill but never acknowledged are acknowledged by
        // the first answer (it pushes nothing) instead of being sent again.
        let resent = again["sent"]?.intValue ?? -1
        #expect(resent >= 0 && resent + 3000 - (partial["unsynced_changes"]?.intValue ?? 0) <= 3000)
        let pulled = try world.json("bob", ["sync", "--json"])
        #expect(pulled["received"] == 3000)
        let bob = try world.json("bob", ["status", "--json"])
        #expect(bob["incidents"] == 3000)
        #expect(bob["total_changes"] == 3000)
    }

    @Test func aServerKilledAndRestartedMidSyncLosesAndDuplicatesNothing() throws {
        let world = try World(reporters: ["alice", "bob"])
        let file = world.incidents(3000, prefix: "s")
        try world.ok("alice", ["import", file])
        let err = Pipe()
        let process = try world.startSync("alice", ["--batch-size", "25", "--attempts", "2"], afterRequests: 4, stderr: err)
        let port = world.server.port
        world.server.stop(signal: SIGKILL)
        process.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 10, "\(message)")

        world.server = try ServerProcess(db: world.server.db, log: world.folder.sub("server.log"), port: port)
        try world.ok("alice", ["sync"])
        #expect(try world.json("alice", ["status", "--json"])["unsynced_changes"] == 0)
        #expect(try world.json("bob", ["sync", "--json"])["received"] == 3000)
        #expect(try world.json("bob", ["status", "--json"])["total_changes"] == 3000)
        let export = try run(Binaries.server, ["export", "--db", world.server.db, "--format", "ndjson"])
        #expect(export.stdout.split(separator: "\n").count == 3000)
    }

    @Test func aWrongOrRevokedTokenIsRefusedAndChangesStayPending() throws {
        let world = try World(reporters: ["alice"])
        try world.ok("alice", ["new", "--title", "Road blocked"])
        try world.ok("alice", ["config", "--token", "not-a-real-token"])
        let wrong = try world.outpost("alice", ["sync"])
        #expect(wrong.status == 11, "\(wrong.stderr)")
        #expect(try world.json("alice", ["status", "--json"])["unsynced_changes"] == 1)

        try world.ok("alice", ["config", "--token=" + world.tokens["alice"]!])
        try world.ok("alice", ["sync"])
        try world.ok("alice", ["new", "--title", "Second report"])
        let revoke = try run(Binaries.server, ["revoke", "--db", world.server.db, "--reporter", "alice"])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let revoked = try world.outpost("alice", ["sync"])
        #expect(revoked.status == 11, "\(revoked.stderr)")
        #expect(try world.json("alice", ["status", "--json"])["unsynced_changes"] == 1)
    }

    @Test func anotherDeviceWithAliceTokenMustProveItsKeyAndCannotWriteAsAlicesDevice() throws {
        let world = try World(reporters: ["alice", "bob"])
        try world.ok("alice", ["new", "--title", "Alice's report"])
        try world.ok("alice", ["sync"])
        let alice = try world.json("alice", ["identity", "--json"])["replica"]?.stringValue
        // Mallory's device holds alice's token (a stolen token is alice's to revoke). Its sync
        // binds the token to mallory's own key: her report is hers, under her own replica,
        // never under alice's device, whose changes only alice's key can sign.
        try world.ok(
            "mallory", ["init", "--reporter", "mallory", "--server", world.server.url, "--token=" + world.tokens["alice"]!])
        try world.ok("mallory", ["new", "--title", "Mallory's report"])
        try world.ok("mallory", ["sync"])
        try world.ok("bob", ["sync"])
        let history = try world.json("bob", ["list", "--json"]).arrayValue ?? []
        #expect(history.count == 2)
        let mallory = try world.json("mallory", ["identity", "--json"])["replica"]?.stringValue
        #expect(mallory != alice)
        // Revoking alice's tokens ends it: the next sync with that token is refused.
        _ = try run(Binaries.server, ["revoke", "--db", world.server.db, "--reporter", "alice"])
        try world.ok("mallory", ["new", "--title", "After the revocation"])
        let refused = try world.outpost("mallory", ["sync"])
        #expect(refused.status == 11, "\(refused.stderr)")
    }
}
