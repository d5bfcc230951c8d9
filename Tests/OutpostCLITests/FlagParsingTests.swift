import ArgumentParser
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostCLI

@Suite("Flag parsing")
struct FlagParsingTests {
    @Test func everySchemaFieldHasAFlag() throws {
        let options = try FieldOptions.parse(IncidentSchema.fields.flatMap { ["--\($0.flag)", "v"] })
        #expect(options.texts.map(\.field) == IncidentSchema.fieldNames)
        #expect(try FieldOptions.parse([]).isEmpty)
    }

    @Test func negativeNumbersAndDashValues() throws {
        let command = try OutpostCommand.parseAsRoot(["new", "--title", "-dash title", "--lat", "-12.5", "--lon", "-0.25"])
        let new = try #require(command as? OutpostCommand.New)
        let writes = try new.fields.writes()
        #expect(writes == ["title": "-dash title", "lat": .double(-12.5), "lon": .double(-0.25)])
    }

    @Test func invalidValuesNameTheFieldAndRule() {
        let options = try? FieldOptions.parse(["--lat", "95", "--event-type", "party", "--killed", "1.5"])
        #expect(throws: CLIError.self) { try options?.writes() }
        do {
            _ = try options?.writes()
        } catch {
            #expect(error.code == .invalidInput)
            #expect(error.message.contains("lat: must be a finite number from -90 to 90 (got 95)"))
            #expect(error.message.contains("event_type: must be one of"))
            #expect(error.message.contains("killed: must be a whole number"))
        }
    }

    @Test func newNeedsATitle() {
        #expect(throws: (any Error).self) { try OutpostCommand.parseAsRoot(["new", "--lat", "1"]) }
    }

    @Test func editClearsByFieldOrFlagName() throws {
        let command = try OutpostCommand.parseAsRoot(["edit", "abc", "--clear", "event-type", "--clear", "lat", "--killed", "2"])
        let edit = try #require(command as? OutpostCommand.Edit)
        #expect(edit.id == "abc")
        #expect(try edit.writes() == ["event_type": .null, "lat": .null, "killed": 2])
        let title = try #require(try OutpostCommand.parseAsRoot(["edit", "abc", "--clear", "title"]) as? OutpostCommand.Edit)
        #expect(throws: CLIError.self) { try title.writes() }
        #expect(throws: (any Error).self) { try OutpostCommand.parseAsRoot(["edit", "abc"]) }
        #expect(throws: (any Error).self) { try OutpostCommand.parseAsRoot(["edit", "abc", "--lat", "1", "--clear", "lat"]) }
    }

    @Test func storeOptionBeforeTheSubcommandIsHoisted() throws {
        #expect(OutpostCommand.hoistingStoreOption(["--store", "/s", "list", "--json"]) == ["list", "--store", "/s", "--json"])
        #expect(OutpostCommand.hoistingStoreOption(["--store=/s", "show", "x"]) == ["show", "--store=/s", "x"])
        #expect(OutpostCommand.hoistingStoreOption(["list", "--store", "/s"]) == ["list", "--store", "/s"])
        let list = try #require(
            try OutpostCommand.parseAsRoot(OutpostCommand.hoistingStoreOption(["--store", "/s", "list"])) as? OutpostCommand.List)
        #expect(list.storeOptions.resolvedPath(environment: [:]) == "/s")
    }

    @Test func storePathFallsBackToEnvironmentThenHome() throws {
        var options = try StoreOptions.parse([])
        #expect(options.resolvedPath(environment: ["OUTPOST_STORE": "/env", "HOME": "/home/a"]) == "/env")
        #expect(options.resolvedPath(environment: ["HOME": "/home/a"]) == "/home/a/.outpost")
        options = try StoreOptions.parse(["--store", "~/x"])
        #expect(options.resolvedPath(environment: ["OUTPOST_STORE": "/env", "HOME": "/home/a"]) == "/home/a/x")
    }

    @Test func exitCodesByStoreErrorKind() {
        #expect(OutpostExitCode(.missing) == .storeMissing)
        #expect(OutpostExitCode(.locked).rawValue == 4)
        #expect(OutpostExitCode(.unknownRecord).rawValue == 5)
        #expect(OutpostExitCode(.invalidValue).rawValue == 6)
        #expect(OutpostExitCode(.invalidState).rawValue == 7)
        #expect(OutpostExitCode(.storage).rawValue == 8)
        #expect(OutpostExitCode(.alreadyExists).rawValue == 9)
        #expect(OutpostCommand.configuration.discussion.contains("4  store locked"))
    }
}
