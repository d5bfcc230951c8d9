import Foundation
import OutpostCore
import Testing

/// Issue 11, "what held up (keep it that way, with tests)": parallel writers on one store lose
/// nothing, and a damaged store fails cleanly with a storage error instead of a crash.
@Suite("outpost binary: what held up")
struct WhatHeldUpTests {
    /// Three writers, a hundred `outpost new` each, at once on one store: every acknowledged id is
    /// there. A command that found the store locked (exit 4) did nothing and is run again.
    @Test func threeTimesAHundredParallelWritesLoseNothing() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        #expect(try CLIRunner.run(["init", "--reporter", "alice"], store: folder.store).status == 0)
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 3) { writer in
            for i in 0..<100 {
                for _ in 0..<20 {
                    guard let r = try? CLIRunner.run(["new", "--title", "writer \(writer) report \(i)"], store: folder.store)
                    else { break }
                    if r.status == 4 { continue }
                    results.add(status: r.status, id: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                    break
                }
            }
        }
        let (statuses, ids) = results.snapshot
        #expect(statuses.count == 300)
        #expect(statuses.allSatisfy { $0 == 0 })
        let list = try CLIRunner.run(["list", "--json"], store: folder.store)
        try #require(list.status == 0, "list failed: \(list.stderr)")
        let listed = Set((try JSONParser.parse(list.stdoutBytes).arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(listed.count == 300)
        #expect(Set(ids) == listed)
    }

    /// A store file cut in half (a full disk, a bad copy) is refused with a storage error (exit 8)
    /// and a message, never a crash; the positive control shows the store worked before.
    @Test func aTruncatedStoreFailsCleanly() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        #expect(try CLIRunner.run(["init", "--reporter", "alice"], store: folder.store).status == 0)
        for i in 0..<200 {
            let narrative = String(repeating: "words of report \(i) ", count: 40)
            let made = try CLIRunner.run(["new", "--title", "report \(i)", "--narrative", narrative], store: folder.store)
            #expect(made.status == 0)
        }
        #expect(try CLIRunner.run(["list"], store: folder.store).status == 0)
        let db = folder.store + "/outpost.db"
        // Every page into the database file first (else the WAL still holds them and the cut misses).
        let checkpoint = Process()
        checkpoint.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        checkpoint.arguments = [
            "python3", "-c", "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')", db,
        ]
        try checkpoint.run()
        checkpoint.waitUntilExit()
        try #require(checkpoint.terminationStatus == 0)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int)
        let handle = try #require(FileHandle(forWritingAtPath: db))
        try handle.truncate(atOffset: UInt64(size / 2))
        try handle.close()
        for arguments in [["list"], ["new", "--title", "after the damage"], ["status"]] {
            let r = try CLIRunner.run(arguments, store: folder.store)
            #expect(r.status == 8, "\(arguments): exit \(r.status), \(r.stderr)")
            #expect(r.stderr.contains("outpost: error:"), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(arguments): \(r.stderr)")
        }
    }
}

/// Exit statuses and printed ids gathered from several threads.
private final class Results: @unchecked Sendable {
    // @unchecked Sendable: every access goes through `lock`.
    private let lock = NSLock()
    private var statuses: [Int32] = []
    private var ids: [String] = []

    func add(status: Int32, id: String) {
        lock.withLock {
            statuses.append(status)
            if status == 0 { ids.append(id) }
        }
    }

    var snapshot: ([Int32], [String]) { lock.withLock { (statuses, ids) } }
}
