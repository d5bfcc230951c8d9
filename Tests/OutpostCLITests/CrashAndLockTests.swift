import Foundation
import OutpostCore
import OutpostTestSupport
import Testing

/// A locked store and a `kill -9` in the middle of a large import, against the real binary.
@Suite("outpost binary: locks and crashes")
struct CrashAndLockTests {
    private func incidents(_ store: String) throws -> Int64? {
        let r = try CLIRunner.run(["status", "--json"], store: store)
        try #require(r.status == 0, "status failed: \(r.stderr)")
        return try JSONParser.parse(r.stdoutBytes)["incidents"]?.intValue
    }

    @Test func lockedStoreExitsWithCode4() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        #expect(try CLIRunner.run(["init", "--reporter", "alice"], store: folder.store).status == 0)
        let marker = folder.path + "/locked"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [
            "python3", "-c",
            """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            open(sys.argv[2], "w").close()
            time.sleep(12)
            """,
            folder.store + "/outpost.db", marker,
        ]
        try python.run()
        defer {
            python.terminate()
            python.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: marker) && Date() < deadline { usleep(20_000) }
        try #require(FileManager.default.fileExists(atPath: marker), "python3 could not lock the store")
        let start = Date()
        let r = try CLIRunner.run(["new", "--title", "blocked"], store: folder.store)
        #expect(r.status == 4)
        #expect(r.stderr.contains("outpost: error: the store is locked"))
        #expect(Date().timeIntervalSince(start) >= 4.5)
    }

    @Test func killDuringLargeImportIsAllOrNothing() throws {
        let binary = try CLIRunner.requireBinary()
        let folder = try TempFolder.make()
        defer { folder.remove() }
        #expect(try CLIRunner.run(["init", "--reporter", "alice"], store: folder.store).status == 0)
        let rows = 200_000
        var text: [UInt8] = []
        text.reserveCapacity(rows * 80)
        for i in 0..<rows {
            text += Array("{\"title\":\"Row \(i)\",\"lat\":\(Double(i % 180) - 89.5),\"event_type\":\"riot\"}\n".utf8)
        }
        let file = folder.path + "/big.ndjson"
        _ = FileManager.default.createFile(atPath: file, contents: Data(text))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--store", folder.store, "import", file]
        process.environment = ProcessInfo.processInfo.environment.merging(TestPassphrase.environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once the import transaction is writing rows to disk, or after 20 s. Alone
        // with the store, the import writes through a rollback journal, so the database file
        // itself grows (through the WAL, the WAL would).
        func size(_ name: String) -> Int {
            (try? FileManager.default.attributesOfItem(atPath: folder.store + "/" + name)[.size] as? Int) ?? 0
        }
        let initial = size("outpost.db")
        let start = Date()
        usleep(300_000)
        while process.isRunning && Date().timeIntervalSince(start) < 20 {
            if size("outpost.db") - initial > 4 << 20 || size("outpost.db-wal") > 4 << 20 { break }
            usleep(10_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let count = try incidents(folder.store)
        #expect(count == 0 || count == Int64(rows), "partial import: \(String(describing: count)) rows")

        let small = folder.write("small.ndjson", "{\"title\":\"after\"}\n{\"title\":\"crash\"}\n")
        let again = try CLIRunner.run(["import", small], store: folder.store)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try incidents(folder.store) == (count ?? 0) + 2)
    }
}
