import Foundation
import OutpostCore
import Testing

/// Runs the real `outpost` binary against temporary stores.
@Suite("outpost binary")
struct BinaryTests {
    private func initStore(_ folder: TempFolder, reporter: String = "alice") throws {
        let r = try CLIRunner.run(["init", "--reporter", reporter], store: folder.store)
        try #require(r.status == 0, "init failed: \(r.stderr)")
    }

    private func new(_ folder: TempFolder, _ args: [String]) throws -> String {
        let r = try CLIRunner.run(["new"] + args, store: folder.store)
        try #require(r.status == 0, "new failed: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    private func json(_ r: CLIResult) throws -> JSONValue {
        try #require(r.status == 0, "command failed: \(r.stderr)")
        return try JSONParser.parse(r.stdoutBytes)
    }

    @Test func initTwiceFailsAndChangesNothing() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let first = try CLIRunner.run(
            ["init", "--reporter", "alice", "--server", "https://example.org", "--token", "s3cret"], store: folder.store)
        #expect(first.status == 0)
        let db = folder.store + "/outpost.db"
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let second = try CLIRunner.run(["init", "--reporter", "bob"], store: folder.store)
        #expect(second.status == 9)
        #expect(second.stderr.hasPrefix("outpost: error: "))
        #expect(second.stderr.contains("already exists"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before)
        let status = try json(try CLIRunner.run(["status", "--json"], store: folder.store))
        #expect(status["reporter"] == "alice")
        #expect(status["server"] == "https://example.org")
        let mode = try FileManager.default.attributesOfItem(atPath: db)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func roundTrip() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let id = try new(
            folder,
            [
                "--title", "Shelling near market", "--event-type", "explosion_remote_violence", "--lat", "-12.5", "--lon", "30",
                "--occurred-at", "2024-05-01T06:30:00Z", "--killed", "3", "--place-name", "Goma",
            ])
        #expect(UUID(uuidString: id) != nil)

        var shown = try json(try CLIRunner.run(["show", id, "--json"], store: folder.store))
        #expect(shown["id"] == .string(id))
        #expect(shown["fields"]?["lat"] == .double(-12.5))
        #expect(shown["fields"]?["killed"] == 3)
        #expect(shown["deleted"] == false)
        #expect(shown["conflict"] == false)
        #expect(shown["conflicts"] == [:])

        let edit = try CLIRunner.run(
            ["edit", id, "--killed", "4", "--clear", "place-name", "--status", "verified"], store: folder.store)
        #expect(edit.status == 0, "\(edit.stderr)")
        shown = try json(try CLIRunner.run(["show", id, "--json"], store: folder.store))
        #expect(shown["fields"]?["killed"] == 4)
        #expect(shown["fields"]?["place_name"] == .null)
        #expect(shown["fields"]?["status"] == "verified")

        let human = try CLIRunner.run(["show", id], store: folder.store)
        #expect(human.status == 0)
        #expect(human.stdout.contains("title"))
        #expect(human.stdout.contains("Shelling near market"))

        let table = try CLIRunner.run(["list"], store: folder.store)
        #expect(table.stdout.hasPrefix("ID"))
        #expect(table.stdout.contains(id))
        #expect(table.stdout.contains("explosion_remote_violence"))

        #expect(try CLIRunner.run(["delete", id], store: folder.store).status == 0)
        #expect(try json(try CLIRunner.run(["list", "--json"], store: folder.store)) == [])
        let withDeleted = try json(try CLIRunner.run(["list", "--json", "--deleted"], store: folder.store))
        #expect(withDeleted.arrayValue?.first?["deleted"] == true)
        let editDeleted = try CLIRunner.run(["edit", id, "--killed", "1"], store: folder.store)
        #expect(editDeleted.status == 7)
        #expect(editDeleted.stderr.contains("deleted"))
        #expect(try CLIRunner.run(["restore", id], store: folder.store).status == 0)
        #expect(try CLIRunner.run(["restore", id], store: folder.store).status == 7)
        let listed = try json(try CLIRunner.run(["list", "--json"], store: folder.store))
        #expect(listed.arrayValue?.count == 1)
        #expect(listed.arrayValue?.first?["fields"]?["killed"] == 4)

        let history = try json(try CLIRunner.run(["history", id, "--json"], store: folder.store))
        let entries = try #require(history.arrayValue)
        #expect(entries.count == 4)
        #expect(entries.allSatisfy { $0["reporter"] == "alice" })
        #expect(entries[1]["writes"] == ["killed": 4, "place_name": .null, "status": "verified"])
        #expect(entries[2]["writes"] == ["_deleted": true])
        let historyText = try CLIRunner.run(["history", id], store: folder.store)
        #expect(historyText.stdout.contains("alice"))
        #expect(historyText.stdout.contains("deleted"))

        let status = try json(try CLIRunner.run(["status", "--json"], store: folder.store))
        #expect(status["unsynced_changes"] == 4)
        #expect(status["incidents"] == 1)
        #expect(status["reporter"] == "alice")
        #expect(status["replica"]?.stringValue?.count == 32)
        let statusText = try CLIRunner.run(["status"], store: folder.store)
        #expect(statusText.stdout.contains("unsynced changes"))
    }

    @Test func storeFromEnvironmentAndBeforeSubcommand() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        #expect(try CLIRunner.run(["init", "--reporter", "env"], environment: ["OUTPOST_STORE": folder.store]).status == 0)
        let id = try CLIRunner.run(["--store", folder.store, "new", "--title", "x"]).stdout
        #expect(!id.isEmpty)
        let status = try json(try CLIRunner.run(["status", "--json"], environment: ["OUTPOST_STORE": folder.store]))
        #expect(status["incidents"] == 1)
    }

    @Test(
        arguments: [
            (["show", "nope"], Int32(5), "no incident with id nope"),
            (["edit", "nope", "--killed", "1"], 5, "no incident with id nope"),
            (["delete", "nope"], 5, "no incident with id nope"),
            (["history", "nope"], 5, "no incident with id nope"),
            (["new", "--title", "x", "--event-type", "party"], 6, "event_type: must be one of"),
            (["new", "--title", "x", "--lat", "-91"], 6, "lat: must be a finite number from -90 to 90 (got -91)"),
            (["new", "--title", "x", "--lon", "abc"], 6, "lon: must be a number"),
            (["new", "--title", String(repeating: "t", count: 201)], 6, "title: must be at most 200 characters (got 201)"),
            (["new", "--title", "   "], 6, "title: must not be empty"),
            (["new", "--title", "x", "--occurred-at", "2024-02-30"], 6, "occurred_at: must be an RFC 3339"),
            (["new", "--title", "x", "--killed", "-1"], 6, "killed: must be from 0"),
            (["new"], 2, "--title is required"),
            (["new", "--title", "x", "--bogus", "1"], 2, "--bogus"),
            (["edit", "ID", "--clear", "colour"], 6, "colour: unknown field"),
            (["edit", "ID", "--clear", "title"], 6, "title: cannot be cleared"),
            (["edit", "ID"], 2, "nothing to change"),
            (["import", "/nonexistent/file.csv"], 6, "cannot read /nonexistent/file.csv"),
            (["export", "--format", "xml"], 2, "xml"),
        ] as [([String], Int32, String)])
    func badInput(arguments: [String], code: Int32, message: String) throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        var args = arguments
        if args.count > 1, args[1] == "ID" { args[1] = try new(folder, ["--title", "existing"]) }
        let r = try CLIRunner.run(args, store: folder.store)
        #expect(r.status == code, "\(args): \(r.stderr)")
        #expect(r.stderr.hasPrefix("outpost: error: "), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func missingStore() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        for args in [["list"], ["new", "--title", "x"], ["status"], ["import", "-"]] {
            let r = try CLIRunner.run(args, store: folder.store)
            #expect(r.status == 3)
            #expect(r.stderr.contains("no Outpost store at \(folder.store)"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.store))
    }

    @Test func badImportReportsEveryLineAndStoresNothing() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let csv = folder.write(
            "in.csv",
            "title,lat,lon,event_type\nGood,1,1,riot\nBad lat,100,1,riot\n\"multi\nline\",2,2,riot\nBad type,3,3,party\n")
        let r = try CLIRunner.run(["import", csv], store: folder.store)
        #expect(r.status == 6)
        #expect(r.stderr.contains("in.csv: line 3: lat: must be a finite number"))
        #expect(r.stderr.contains("in.csv: line 6: event_type: must be one of"))
        #expect(r.stderr.contains("2 invalid rows; nothing was imported"))
        #expect(try json(try CLIRunner.run(["list", "--json"], store: folder.store)) == [])

        let existing = try new(folder, ["--title", "x"])
        let clash = folder.write("clash.ndjson", "{\"title\":\"a\"}\n{\"id\":\"\(existing)\",\"title\":\"b\"}\n")
        let r2 = try CLIRunner.run(["import", clash], store: folder.store)
        #expect(r2.status == 9)  // already exists, as `outpost --help` says
        #expect(r2.stderr.contains("line 2: id \(existing) already exists"))
        #expect(try json(try CLIRunner.run(["list", "--json"], store: folder.store)).arrayValue?.count == 1)
    }

    @Test func importAndExportFormats() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let csv = "\u{FEFF}id,title,narrative,lat,lon\r\na,\"Clash, north\",\"two\r\nlines\",-1.5,30.25\r\nb,No place,,,\r\n"
        let r = try CLIRunner.run(["import", "-", "--format", "csv"], store: folder.store, stdin: Array(csv.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "Imported 2 incidents.\n")

        let exported = try CLIRunner.run(["export", "--format", "csv"], store: folder.store)
        #expect(exported.stdout.hasPrefix("id,title,narrative,event_type,"))
        #expect(exported.stdout.contains("a,\"Clash, north\",\"two\r\nlines\",,,,-1.5,30.25,"))

        let geo = try json(try CLIRunner.run(["export", "--format", "geojson"], store: folder.store))
        let features = try #require(geo["features"]?.arrayValue)
        try #require(features.count == 2)
        #expect(features[0]["geometry"]?["coordinates"] == [30.25, -1.5])
        #expect(features[1]["geometry"] == .null)
        #expect(features[0]["properties"]?["id"] == "a")

        let ndjson = try CLIRunner.run(["export"], store: folder.store)
        let lines = ndjson.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let show = try CLIRunner.run(["show", "a", "--json"], store: folder.store)
        #expect(String(lines[0]) + "\n" == show.stdout)

        // The NDJSON export imports into a fresh store.
        let other = try TempFolder.make()
        defer { other.remove() }
        try initStore(other, reporter: "bob")
        let file = other.write("all.ndjson", ndjson.stdout)
        #expect(try CLIRunner.run(["import", file], store: other.store).status == 0)
        let again = try CLIRunner.run(["show", "a", "--json"], store: other.store)
        #expect(try json(again)["fields"] == (try json(show))["fields"])
    }

    @Test func textRoundTripsExactly() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let nfc = "caf\u{E9} \u{1F6A8} تقرير عن القصف"
        let nfd = "cafe\u{301} \u{1F6A8} تقرير عن القصف"
        let a = try new(
            folder, ["--title", nfc, "--lat", "12.345678901234567", "--lon", "1", "--narrative", "line 1\nline 2\t\"q\""])
        let b = try new(folder, ["--title", nfd, "--lat", "1", "--lon", "-0.1"])
        let shownA = try json(try CLIRunner.run(["show", a, "--json"], store: folder.store))
        let shownB = try json(try CLIRunner.run(["show", b, "--json"], store: folder.store))
        #expect(shownA["fields"]?["title"]?.stringValue.map { Array($0.utf8) } == Array(nfc.utf8))
        #expect(shownB["fields"]?["title"]?.stringValue.map { Array($0.utf8) } == Array(nfd.utf8))
        #expect(shownA["fields"]?["lat"] == .double(12.345678901234567))
        #expect(shownA["fields"]?["narrative"] == "line 1\nline 2\t\"q\"")
        let raw = try CLIRunner.run(["show", a, "--json"], store: folder.store).stdout
        #expect(raw.contains("\"lat\":12.345678901234567"))
        #expect(raw.utf8.contains(Array("\u{1F6A8}".utf8)))
    }

    @Test func narrativeFromStandardInput() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let text = String(repeating: "A long narrative. ", count: 500)
        let r = try CLIRunner.run(["new", "--title", "x", "--narrative-file", "-"], store: folder.store, stdin: Array(text.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let id = r.stdout.trimmingCharacters(in: .newlines)
        #expect(
            try json(try CLIRunner.run(["show", id, "--json"], store: folder.store))["fields"]?["narrative"] == .string(text))
    }

    @Test func helpListsExitCodes() throws {
        let r = try CLIRunner.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("4  store locked"))
        #expect(r.stdout.contains("import"))
        let sub = try CLIRunner.run(["new", "--help"])
        #expect(sub.stdout.contains("--event-type"))
        #expect(sub.stdout.contains("--narrative-file"))
    }
}
