import Foundation
import OutpostCore
import Testing

/// `conflicts`, `resolve`, `bundle` and the sync settings, through the real binary.
@Suite("conflicts and bundles")
struct ConflictAndBundleTests {
    private func ok(_ arguments: [String], store: String) throws -> String {
        let r = try CLIRunner.run(arguments, store: store)
        try #require(r.status == 0, "\(arguments.joined(separator: " ")) failed: \(r.stderr)")
        return r.stdout
    }

    /// Two stores that share one incident edited concurrently on `killed`: returns the id.
    private func twoReportersInConflict(_ a: String, _ b: String, folder: TempFolder) throws -> String {
        _ = try ok(["init", "--reporter", "alice"], store: a)
        _ = try ok(["init", "--reporter", "bob"], store: b)
        let id = try ok(["new", "--title", "Market attack", "--killed", "3"], store: a).trimmingCharacters(in: .newlines)
        let all = folder.path + "/all.bundle"
        _ = try ok(["bundle", "create", "--out", all], store: a)
        _ = try ok(["bundle", "apply", all], store: b)
        _ = try ok(["edit", id, "--killed", "4"], store: a)
        _ = try ok(["edit", id, "--killed", "5"], store: b)
        let summary = folder.path + "/b.summary"
        _ = try ok(["bundle", "summary", "--out", summary], store: b)
        let missing = folder.path + "/missing.bundle"
        let created = try ok(["bundle", "create", "--for", summary, "--out", missing], store: a)
        #expect(created.contains("Wrote 1 change"))
        _ = try ok(["bundle", "apply", missing], store: b)
        let back = folder.path + "/back.bundle"
        _ = try ok(["bundle", "create", "--out", back], store: b)
        _ = try ok(["bundle", "apply", back], store: a)
        return id
    }

    @Test func concurrentEditsShowAsConflictsEverywhereAndResolveByPick() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let a = folder.path + "/a", b = folder.path + "/b"
        let id = try twoReportersInConflict(a, b, folder: folder)
        let fromA = try JSONParser.parse(Array(try ok(["conflicts", "--json"], store: a).utf8))
        let fromB = try JSONParser.parse(Array(try ok(["conflicts", "--json"], store: b).utf8))
        #expect(fromA == fromB)
        let values = fromA.arrayValue?.first?["fields"]?["killed"]?.arrayValue?.compactMap { $0["value"] }
        #expect(values?.count == 2)
        #expect(try ok(["conflicts"], store: a).contains("(shown)"))
        // Keep the value that is not shown, then carry the resolution to the other store.
        let losing = values![1]
        _ = try ok(["resolve", id, "killed", "--pick", "2"], store: a)
        #expect(try ok(["conflicts"], store: a) == "No conflicts.\n")
        let fix = folder.path + "/fix.bundle"
        _ = try ok(["bundle", "create", "--out", fix], store: a)
        _ = try ok(["bundle", "apply", fix], store: b)
        #expect(try ok(["conflicts", "--json"], store: b) == "[]\n")
        let shown = try JSONParser.parse(Array(try ok(["show", id, "--json"], store: b).utf8))
        #expect(shown["fields"]?["killed"] == losing)
    }

    @Test func resolveByValueAndItsErrors() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let a = folder.path + "/a", b = folder.path + "/b"
        let id = try twoReportersInConflict(a, b, folder: folder)
        #expect(try CLIRunner.run(["resolve", id, "killed"], store: a).status == 2)
        #expect(try CLIRunner.run(["resolve", id, "killed", "--pick", "1", "--value", "3"], store: a).status == 2)
        #expect(try CLIRunner.run(["resolve", id, "killed", "--pick", "9"], store: a).status == 6)
        #expect(try CLIRunner.run(["resolve", id, "title", "--pick", "1"], store: a).status == 7)
        #expect(try CLIRunner.run(["resolve", id, "killed", "--value", "-3"], store: a).status == 6)
        #expect(try CLIRunner.run(["resolve", "no-such-id", "killed", "--value", "3"], store: a).status == 5)
        _ = try ok(["resolve", id, "killed", "--value", "6"], store: a)
        let shown = try JSONParser.parse(Array(try ok(["show", id, "--json"], store: a).utf8))
        #expect(shown["fields"]?["killed"] == 6)
        #expect(try ok(["conflicts"], store: a) == "No conflicts.\n")
    }

    @Test func damagedBundlesAreRefusedWithNothingApplied() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let a = folder.path + "/a", b = folder.path + "/b"
        _ = try ok(["init", "--reporter", "alice"], store: a)
        _ = try ok(["init", "--reporter", "bob"], store: b)
        for i in 0..<20 { _ = try ok(["new", "--title", "Report \(i)"], store: a) }
        let path = folder.path + "/a.bundle"
        _ = try ok(["bundle", "create", "--out", path], store: a)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x40
        let cases = [
            ("truncated", Array(bytes.prefix(bytes.count - 9))), ("flipped", flipped), ("not a bundle", Array("hello".utf8)),
        ]
        for (name, content) in cases {
            let file = folder.path + "/\(name).bundle"
            _ = FileManager.default.createFile(atPath: file, contents: Data(content))
            let r = try CLIRunner.run(["bundle", "apply", file], store: b)
            #expect(r.status == 6, "\(name)")
            #expect(
                r.stderr.contains("nothing was applied") || r.stderr.contains("not an Outpost bundle"), "\(name): \(r.stderr)")
        }
        #expect(try ok(["list", "--json"], store: b) == "[]\n")
        let summary = folder.path + "/b.summary"
        _ = try ok(["bundle", "summary", "--out", summary], store: b)
        #expect(try CLIRunner.run(["bundle", "apply", summary], store: b).status == 6)
        let applied = try ok(["bundle", "apply", path], store: b)
        #expect(applied.contains("20 new changes"))
        #expect(try ok(["bundle", "apply", path], store: b).contains("0 new changes, 20 already known"))
    }

    @Test func syncWithoutAServerOrWithAnUnreachableOneLosesNothing() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let a = folder.path + "/a"
        _ = try ok(["init", "--reporter", "alice"], store: a)
        _ = try ok(["new", "--title", "Checkpoint closed"], store: a)
        let none = try CLIRunner.run(["sync"], store: a)
        #expect(none.status == 6)
        #expect(none.stderr.contains("no sync server configured"))
        #expect(try CLIRunner.run(["config", "--server", "ftp://x"], store: a).status == 6)
        // A port nothing listens on: refused at once, retried, then exit 10.
        _ = try ok(["config", "--server", "http://127.0.0.1:9", "--token", "abc"], store: a)
        let down = try CLIRunner.run(["sync", "--attempts", "2"], store: a)
        #expect(down.status == 10)
        #expect(down.stderr.contains("unreachable"))
        let status = try JSONParser.parse(Array(try ok(["status", "--json"], store: a).utf8))
        #expect(status["unsynced_changes"] == 1)
    }
}
