import Foundation
import OutpostCore
import Testing

@testable import OutpostCLI
@testable import OutpostSync

/// What a newcomer tripped on: a lone coordinate, the exit-code table, `--version`, help text.
@Suite("What a newcomer tripped on")
struct NewcomerTests {
    private func initStore(_ folder: TempFolder) throws {
        let r = try CLIRunner.run(["init", "--reporter", "alice"], store: folder.store)
        try #require(r.status == 0, "init failed: \(r.stderr)")
    }

    private func incidentCount(_ folder: TempFolder) throws -> Int {
        let r = try CLIRunner.run(["list", "--json"], store: folder.store)
        try #require(r.status == 0, "\(r.stderr)")
        return try JSONParser.parse(r.stdoutBytes).arrayValue?.count ?? -1
    }

    private func fields(_ folder: TempFolder, _ id: String) throws -> JSONValue? {
        let r = try CLIRunner.run(["show", id, "--json"], store: folder.store)
        try #require(r.status == 0, "\(r.stderr)")
        return try JSONParser.parse(r.stdoutBytes)["fields"]
    }

    // MARK: A location is both coordinates or neither

    @Test(arguments: [(["--lat", "16.27"], "--lat needs --lon"), (["--lon", "-0.04"], "--lon needs --lat")])
    func newRefusesALoneCoordinate(flags: [String], message: String) throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let r = try CLIRunner.run(["new", "--title", "Market attack"] + flags, store: folder.store)
        #expect(r.status == 6)
        #expect(r.stderr.contains("outpost: error: \(message) too"), "\(r.stderr)")
        #expect(try incidentCount(folder) == 0)
        // Positive control: both together are stored as a point.
        let both = try CLIRunner.run(
            ["new", "--title", "Market attack", "--lat", "16.27", "--lon", "-0.04"], store: folder.store)
        #expect(both.status == 0, "\(both.stderr)")
    }

    @Test func editRefusesToLeaveALoneCoordinate() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let bare = try CLIRunner.run(["new", "--title", "No place yet"], store: folder.store)
        let bareID = bare.stdout.trimmingCharacters(in: .newlines)
        let lone = try CLIRunner.run(["edit", bareID, "--lat", "1"], store: folder.store)
        #expect(lone.status == 6)
        #expect(lone.stderr.contains("lat without lon"), "\(lone.stderr)")
        #expect(lone.stderr.contains("give --lon too"))
        #expect((try fields(folder, bareID)?["lat"] ?? .null) == .null)
        #expect(try CLIRunner.run(["edit", bareID, "--lat", "1", "--lon", "2"], store: folder.store).status == 0)

        // With a point, one coordinate may move alone, but not be cleared alone.
        #expect(try CLIRunner.run(["edit", bareID, "--lat", "3"], store: folder.store).status == 0)
        #expect(try fields(folder, bareID)?["lat"] == 3)
        let cleared = try CLIRunner.run(["edit", bareID, "--clear", "lat"], store: folder.store)
        #expect(cleared.status == 6)
        #expect(cleared.stderr.contains("give --clear lon too"), "\(cleared.stderr)")
        #expect(try fields(folder, bareID)?["lat"] == 3)
        #expect(try CLIRunner.run(["edit", bareID, "--clear", "lat", "--clear", "lon"], store: folder.store).status == 0)
        #expect(try fields(folder, bareID)?["lon"] == .null)
        // An edit that touches neither coordinate is not checked.
        #expect(try CLIRunner.run(["edit", bareID, "--killed", "2"], store: folder.store).status == 0)
    }

    /// The lone rows are the file's second and third incidents: lines 2 and 3 of the NDJSON file,
    /// 3 and 4 of the CSV file (after its header).
    @Test(arguments: [
        (
            "rows.ndjson",
            "{\"title\":\"ok\",\"lat\":1,\"lon\":2}\n{\"title\":\"lone\",\"lat\":1}\n{\"title\":\"n\",\"lon\":2,\"lat\":null}\n",
            2
        ),
        ("rows.csv", "title,lat,lon\nok,1,2\nlone,1,\nn,,2\n", 3),
    ])
    func importRefusesRowsWithALoneCoordinate(name: String, text: String, line: Int) throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let r = try CLIRunner.run(["import", folder.write(name, text)], store: folder.store)
        #expect(r.status == 6)
        #expect(r.stderr.contains("line \(line): lon: is required with lat"), "\(r.stderr)")
        #expect(r.stderr.contains("line \(line + 1): lat: is required with lon"), "\(r.stderr)")
        #expect(r.stderr.contains("2 invalid rows; nothing was imported"))
        #expect(try incidentCount(folder) == 0)
    }

    @Test func theFastAndGeneralImportPathsAgreeOnALoneCoordinate() throws {
        let lines = [
            #"{"title": "a", "lat": 1}"#, #"{"title": "b", "lon": 1}"#, #"{"title": "c", "lat": 1, "lon": null}"#,
            #"{"title": "d", "lat": 95}"#, #"{"title": "e", "lat": 1, "lon": 2}"#,
        ]
        let result = IncidentImporter.parse(Array(lines.joined(separator: "\n").utf8), format: .ndjson)
        for (index, line) in lines.enumerated() {
            let general = IncidentImporter.input(fromJSON: try JSONParser.parse(line))
            let fast = result.problems.first { $0.line == index + 1 }
            switch general {
            case .success: #expect(fast == nil)
            case .failure(let problem): #expect(fast?.message == problem.message)
            }
        }
        #expect(
            result.problems.map(\.message) == [
                "lon: is required with lat (a location is both or neither)",
                "lat: is required with lon (a location is both or neither)",
                "lon: is required with lat (a location is both or neither)",
                "lat: must be a finite number from -90 to 90 (got 95)",
            ])
        #expect(result.rows.map(\.line) == [5])
    }

    // MARK: One exit-code table

    @Test func theHelpTableListsEveryExitCodeOnce() {
        let lines = OutpostExitCode.helpText.split(separator: "\n").dropFirst()
        let numbers = lines.compactMap { Int32($0.trimmingCharacters(in: .whitespaces).prefix { $0.isNumber }) }
        #expect(numbers == OutpostExitCode.allCases.map(\.rawValue))
    }

    @Test func importingAnIDThatExistsIsAlreadyExists() {
        #expect(OutpostExitCode(.alreadyExists) == .alreadyExists)
        #expect(OutpostExitCode.helpText.contains("9  already exists (`init` on a store, `import` of an id it holds)"))
    }

    @Test func aServerThatMakesNoProgressHasItsOwnExitCode() {
        let looping = CLIError.from(ServerSyncNoProgress(answers: 3, cursor: 7, counter: 0))
        #expect(looping.code == .noProgress)
        #expect(looping.code.rawValue == 14)
        #expect(looping.message.contains("the server made no progress"))
        #expect(CLIError.from(ServerSyncStalled(counter: 2)).code == .noProgress)
        #expect(OutpostExitCode.helpText.contains("14  sync: the server made no progress"))
    }

    @Test func theHelpTableFitsEightyColumns() {
        for line in OutpostExitCode.helpText.split(separator: "\n") {
            #expect(line.count <= 78, "\(line)")
        }
    }

    // MARK: --version and help text

    @Test func versionIsPrinted() throws {
        let r = try CLIRunner.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout == outpostVersion + "\n")
    }

    @Test func fieldFlagsHaveRealHelp() throws {
        let r = try CLIRunner.run(["new", "--help"])
        #expect(r.status == 0)
        #expect(!r.stdout.contains("The lat ("), "\(r.stdout)")
        #expect(!r.stdout.contains("The killed ("))
        #expect(r.stdout.contains("Latitude in decimal degrees"))
        #expect(r.stdout.contains("How many people were killed"))
        for spec in IncidentSchema.fields {
            let help = FieldOptions.help(spec.name).abstract
            #expect(!help.hasPrefix("The \(spec.name.replacingUnderscores) ("), "\(spec.name): \(help)")
            #expect(FieldOptions.descriptions[spec.name] != nil, "\(spec.name) has no description")
        }
        #expect(FieldOptions.help("lat").abstract.hasSuffix("(a number from -90 to 90); give --lon with it."))
    }

    @Test func mainHelpListsTheExitCodesAndVersion() throws {
        let r = try CLIRunner.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains(" 1  other failure"))
        #expect(r.stdout.contains("14  sync: the server made no progress"))
        #expect(r.stdout.contains("--version"))
    }
}
