import Foundation
import OutpostCore
import OutpostServer
import OutpostStore
import Testing

/// `outpost-server backup --out FILE`: a consistent copy of the database while the server writes.
@Suite struct BackupCommandTests {
    /// How many incidents the writer sends the server, one transaction each.
    static let written = 200
    /// After how many of them the backups start.
    static let writtenBeforeBackups = 50

    /// Backups taken while another connection keeps applying changes each open, pass
    /// `integrity_check` and hold a prefix of the writes in which every change's record is
    /// present and the records are exactly what the log rebuilds; the last, taken when the
    /// writer has finished, holds everything (the positive control).
    @Test func backupsWhileAnotherConnectionWritesAreConsistent() async throws {
        let fixture = try ServerFixture()
        _ = try fixture.token("alice")
        let reporter = try fixture.replica("alice")
        var made: [Change] = []
        for i in 0..<Self.written {
            made.append(try reporter.create(id: String(format: "r%03d", i), fields: ["title": .string("Incident \(i)")]))
        }
        let changes = made
        let server = fixture.store
        let databasePath = fixture.configuration.databasePath
        let outputs = (0..<4).map { fixture.directory + "/backup-\($0).db" }
        let writerFailure = try await offPool { () -> String? in
            let started = DispatchSemaphore(value: 0)
            let finished = DispatchSemaphore(value: 0)
            let failure = LockedText()
            let writer = Thread {
                for (i, change) in changes.enumerated() {
                    do { _ = try server.applyRemote([change]) } catch { failure.set("write \(i): \(error)") }
                    if i + 1 == Self.writtenBeforeBackups { started.signal() }
                }
                finished.signal()
            }
            writer.start()
            started.wait()
            // Three backups while the writer goes on, from another connection (as the command's process does).
            for output in outputs.prefix(3) { try ServerCommands.backup(databasePath: databasePath, outputPath: output) }
            finished.wait()
            try ServerCommands.backup(databasePath: databasePath, outputPath: outputs[3])
            return failure.text
        }
        #expect(writerFailure == nil)
        #expect(try server.incidents().count == Self.written)

        var held: [Int] = []
        for output in outputs {
            held.append(try expectConsistentCopy(output, author: reporter.replica, tokens: 1))
            let permissions = try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? NSNumber
            #expect(permissions?.intValue == 0o600, "\(output)")
        }
        #expect(held.allSatisfy { $0 >= Self.writtenBeforeBackups }, "\(held)")
        #expect(held == held.sorted(), "later backups hold no less: \(held)")
        #expect(held.last == Self.written)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory).filter { $0.contains(".partial-") }
        #expect(leftovers.isEmpty)
    }

    /// Checks one copy and returns how many incidents it holds.
    private func expectConsistentCopy(_ path: String, author: ReplicaID, tokens: Int) throws -> Int {
        let raw = try Database(path: path, create: false)
        #expect(try raw.prepare("PRAGMA integrity_check").first { $0.text(0) } == "ok", "\(path)")
        #expect(try raw.prepare("SELECT count(*) FROM server_tokens").first { $0.int(0) } == Int64(tokens))
        let copy = try Store.open(databasePath: path)
        let incidents = try copy.incidents()
        let count = incidents.count
        // A prefix of the writes: r000 … r(count-1), each with its title.
        #expect(
            incidents.map(\.id).sorted() == (0..<count).map { String(format: "r%03d", $0) }, "\(path) is not a prefix")
        for incident in incidents {
            #expect(incident.fields["title"] == .string("Incident \(Int(incident.id.dropFirst())!)"))
        }
        // Every change of the log has its record; the counter and the log agree.
        let (log, _) = try copy.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max)
        let logChanges = try log.map { try $0.change() }
        #expect(logChanges.count == count)
        let ids = Set(incidents.map(\.id))
        #expect(logChanges.allSatisfy { ids.contains($0.record.id) })
        #expect(try copy.contiguousCounter(of: author) == Int64(count))
        // The records are what the log rebuilds in a fresh store.
        let rebuiltFolder = path + "-rebuilt"
        defer { try? FileManager.default.removeItem(atPath: rebuiltFolder) }
        let rebuilt = try Store.create(at: rebuiltFolder, reporter: "check")
        _ = try rebuilt.applyRemote(logChanges)
        #expect(Set(try rebuilt.incidents().map(\.fields)) == Set(incidents.map(\.fields)))
        return count
    }

    /// Bad input: each refusal names the problem and writes nothing; an existing file is left as it was.
    @Test func badInputIsRefusedNamingTheProblem() throws {
        let fixture = try ServerFixture()
        let database = fixture.configuration.databasePath
        let existing = fixture.directory + "/existing.db"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
        let notAFolder = fixture.directory + "/plain-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: notAFolder))
        let cases: [(db: String, out: String, message: String)] = [
            (fixture.directory + "/none.db", fixture.directory + "/a.db", "no server database at \(fixture.directory)/none.db"),
            (database, existing, "\(existing) already exists; a backup never overwrites anything"),
            (database, fixture.directory, "\(fixture.directory) is a folder"),
            (database, fixture.directory + "/missing/b.db", "the folder \(fixture.directory)/missing does not exist"),
            (database, notAFolder + "/c.db", "\(notAFolder) is not a folder"),
        ]
        for (db, out, message) in cases {
            var caught: (any Error)?
            do { try ServerCommands.backup(databasePath: db, outputPath: out) } catch { caught = error }
            let text = caught.map { String(describing: $0) } ?? "no error"
            #expect(text.contains(message), "\(out): \(text)")
            #expect(text.contains("nothing was"), "\(out): \(text)")
        }
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: fixture.directory))
                == ["server.db", "server.db-wal", "server.db-shm", "existing.db", "plain-file"])
        // Positive control: a new name in the same folder is written.
        try ServerCommands.backup(databasePath: database, outputPath: fixture.directory + "/new.db")
        #expect(FileManager.default.fileExists(atPath: fixture.directory + "/new.db"))
    }

    /// The real `outpost-server backup`: exit 0 and a copy; a taken name exits non-zero with the message on stderr.
    @Test func theCommandExitsNonZeroOnBadInput() throws {
        let binary = try #require(Self.serverBinary, "outpost-server is not built; run swift build --build-tests")
        let fixture = try ServerFixture()
        _ = try fixture.token("alice")
        let output = fixture.directory + "/copy.db"
        let made = try Self.run(binary, ["backup", "--db", fixture.configuration.databasePath, "--out", output])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("backed up"))
        // The copy holds the same roster (a copy of a database continues under a new replica of
        // its own once opened, so the roster, not the replica ID, tells it is this server's).
        #expect(try Set(Store.open(databasePath: output).roster()).isSuperset(of: fixture.store.roster()))
        let again = try Self.run(binary, ["backup", "--db", fixture.configuration.databasePath, "--out", output])
        #expect(again.status != 0)
        #expect(again.stderr.contains("\(output) already exists"), "\(again.stderr)")
        let missing = try Self.run(binary, ["backup", "--db", fixture.directory + "/none.db", "--out", output + "2"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no server database at"), "\(missing.stderr)")
    }

    /// The built `outpost-server`, found by walking up from the test bundle.
    static let serverBinary: String? = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("outpost-server").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return nil
    }()

    private static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The outputs are a line or two: they fit the pipes, so reading after the exit cannot block it.
        process.waitUntilExit()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, stdout, stderr)
    }
}

/// Text set from another thread, read after it has finished.
private final class LockedText: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: String?

    func set(_ text: String) { lock.withLock { if value == nil { value = text } } }
    var text: String? { lock.withLock { value } }
}
