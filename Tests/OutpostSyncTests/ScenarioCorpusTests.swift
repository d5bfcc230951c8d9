import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// The `.json` files of a bundled resource folder, sorted by name.
func resourceFiles(_ folder: String) throws -> [String] {
    let url = try #require(Bundle.module.url(forResource: folder, withExtension: nil), "resource folder \(folder) is missing")
    let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".json") }.sorted()
    return names.map { url.appendingPathComponent($0).path }
}

/// Where tests put stores: memory-backed `/dev/shm` when there is one (stores sync every commit to disk).
let testRoot: String = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()

/// A fresh temporary folder path (not created), removed by the caller.
func temporaryPath(_ label: String) -> String {
    (testRoot as NSString).appendingPathComponent("outpost-sync-tests-\(label)-" + UUID().uuidString)
}

@Suite struct ScenarioCorpusTests {
    @Test func everyBundledScenarioPasses() async throws {
        let files = try resourceFiles("Scenarios")
        #expect(files.count >= 49)
        var failed: [String] = []
        for path in files {
            let file = (path as NSString).lastPathComponent
            do {
                let outcome = try await ScenarioRunner(temporaryRoot: testRoot).run(path: path)
                if !outcome.pass { failed.append("\(file): " + outcome.failures.joined(separator: " | ")) }
            } catch {
                failed.append("\(file): \(error)")
            }
        }
        #expect(failed.isEmpty, "\(failed.count) scenario(s) failed:\n\(failed.joined(separator: "\n"))")
    }

    @Test func malformedScenariosAreRefusedNamingFileAndStep() throws {
        let files = try resourceFiles("MalformedScenarios")
        #expect(files.count == 9)
        for path in files {
            #expect {
                try Scenario.load(path: path)
            } throws: { error in
                guard let e = error as? ScenarioError else { return false }
                return e.file == path && e.step != nil && e.description.contains(path)
            }
        }
    }

    @Test func theCommandExitsZeroOneOrTwo() async throws {
        let good = try resourceFiles("Scenarios")[0]
        let malformed = try resourceFiles("MalformedScenarios")[0]
        var lines: [String] = []
        var errors: [String] = []
        let root = temporaryPath("command")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runner = ScenarioRunner(temporaryRoot: root)
        #expect(await runner.main(arguments: [good], output: { lines.append($0) }, errors: { errors.append($0) }) == 0)
        #expect(lines.count == 1 && errors.isEmpty)
        let line = try JSONParser.parse(lines[0])
        #expect(line["pass"] == .bool(true))
        #expect(line["failures"] == .array([]))
        #expect(line["replicas"]?["alice"]?["records"]?["r1"] != nil)

        lines = []
        #expect(
            await runner.main(arguments: [good, malformed], output: { lines.append($0) }, errors: { errors.append($0) }) == 2)
        #expect(lines.count == 1)
        #expect(errors.count == 1 && errors[0].contains(malformed) && errors[0].contains("steps[1]"))

        #expect(await runner.main(arguments: [], output: { _ in }, errors: { _ in }) == 2)
        #expect(await runner.main(arguments: ["/nonexistent/x.json"], output: { _ in }, errors: { _ in }) == 2)

        // A scenario whose expectation is wrong: exit 1, the failure said in words.
        let wrong = temporaryPath("wrong") + ".json"
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        try Data(
            """
            {"name": "wrong", "replicas": ["alice", "bob"],
             "steps": [{"at": "alice", "create": {"id": "r1", "fields": {"title": "A", "killed": 1}}}, {"sync": ["alice", "bob"]}],
             "expect": {"converged": ["alice", "bob"], "records": {"r1": {"title": "A", "killed": 2}}, "conflicts": {}}}
            """.utf8
        ).write(to: URL(fileURLWithPath: wrong))
        lines = []
        #expect(await runner.main(arguments: [wrong], output: { lines.append($0) }, errors: { _ in }) == 1)
        let failure = try JSONParser.parse(lines[0])
        #expect(failure["pass"] == .bool(false))
        #expect(failure["failures"]?.arrayValue?.first?.stringValue?.contains("killed") == true)
        // Every temporary store was removed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    /// Each text must be refused, and the message must name the step index when one is given.
    @Test(
        arguments: [
            (#"{"name":"x","replicas":["a"],"steps":[],"expect":{},"extra":1}"#, nil, "unknown key"),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","create":{"id":"r1","fields":{"title":"t"}},"note":"hi"}],"expect":{}}"#,
                0, "several kinds"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","clock":"yesterday","create":{"id":"r1","fields":{"title":"t"}}}],"expect":{}}"#,
                0, "clock"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","clock":"2026-02-30T00:00:00Z","create":{"id":"r1","fields":{"title":"t"}}}],"expect":{}}"#,
                0, "clock"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"b","create":{"id":"r1","fields":{"title":"t"}}}],"expect":{}}"#, 0,
                "unknown replica"
            ),
            (#"{"name":"x","replicas":["a","b"],"steps":[{"sync":["a","a"]}],"expect":{}}"#, 0, "twice"),
            (#"{"name":"x","replicas":["a","b"],"steps":[{"send":{"from":"a","to":"c"}}],"expect":{}}"#, 0, "unknown replica"),
            (
                #"{"name":"x","replicas":["a","b"],"steps":[{"sync":["a","b"]},{"replay":{"from":"a","to":"b","all":true}}],"expect":{}}"#,
                1, "unknown key"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","create":{"id":"r1","fields":{"killed":1}}}],"expect":{}}"#, 0,
                "title"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","create":{"id":"r1","fields":{"title":"t","colour":"red"}}}],"expect":{}}"#,
                0, "unknown field"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","update":{"id":"r1","fields":{"lat":91}}}],"expect":{}}"#, 0,
                "lat"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","update":{"id":"r1","fields":{"_deleted":true}}}],"expect":{}}"#,
                0, "_deleted"
            ),
            (
                #"{"name":"x","replicas":["a"],"steps":[{"at":"a","delete":{"id":"r1","why":"dup"}}],"expect":{}}"#, 0,
                "unknown key"
            ),
            (#"{"name":"x","replicas":["a"],"steps":[],"expect":{"converged":["z"]}}"#, nil, "unknown replica"),
            (#"{"name":"x","replicas":["a"],"steps":[],"expect":{"conflicts":{"r1":{"killed":[1]}}}}"#, nil, "at least two"),
            (#"{"name":"x","replicas":["a","a"],"steps":[],"expect":{}}"#, nil, "twice"),
            (#"{"name":"x","replicas":["a"],"steps":[]}"#, nil, "expect"),
            (#"{"name":"x","replicas":["\#(String(repeating: "é", count: 33))"],"steps":[],"expect":{}}"#, nil, "64 UTF-8 bytes"),
        ] as [(String, Int?, String)])
    func strictParsingRefuses(text: String, step: Int?, mentions: String) {
        #expect {
            try Scenario.parse(Array(text.utf8), file: "inline.json")
        } throws: { error in
            guard let e = error as? ScenarioError else { return false }
            return e.step == step && e.description.contains("inline.json") && e.description.contains(mentions)
        }
    }

    @Test func aStepThatCannotBeCarriedOutNamesTheStep() async throws {
        let text =
            #"{"name":"x","replicas":["a","b"],"steps":[{"at":"a","create":{"id":"r1","fields":{"title":"t"}}},{"at":"b","update":{"id":"r1","fields":{"killed":1}}}],"expect":{}}"#
        let scenario = try Scenario.parse(Array(text.utf8), file: "inline.json")
        await #expect {
            try await ScenarioRunner(temporaryRoot: testRoot).run(scenario)
        } throws: { error in
            (error as? ScenarioError)?.step == 1
        }
    }

    @Test func wallClocksAreTrackedPerReplica() async throws {
        // b never sets a clock: it starts at 2026-01-01T00:00:00Z; a keeps its last clock.
        let text = """
            {"name":"clocks","replicas":["a","b"],"steps":[
              {"at":"a","clock":"2026-05-01T00:00:00Z","create":{"id":"r1","fields":{"title":"t"}}},
              {"sync":["a","b"]},
              {"at":"b","update":{"id":"r1","fields":{"killed":1}}},
              {"at":"a","update":{"id":"r1","fields":{"killed":2}}},
              {"sync":["a","b"]}],
             "expect":{"converged":["a","b"],"records":{"r1":{"title":"t","killed":2}},"conflicts":{"r1":{"killed":[2,1]}}}}
            """
        let outcome = try await ScenarioRunner(temporaryRoot: testRoot).run(
            try Scenario.parse(Array(text.utf8), file: "inline.json"))
        #expect(outcome.pass, "\(outcome.failures)")
    }

    @Test func comparisonsAreByteWiseNotCanonicalEquivalence() {
        let nfc = "S\u{E9}gou", nfd = "Se\u{301}gou"
        #expect(nfc == nfd)  // Swift's String == would hide the difference…
        let view = ScenarioReplicaView(records: ["r1": .object(["place_name": .string(nfd)])], conflicts: [:])
        let failures = ScenarioRunner.check(
            ScenarioExpectations(records: ["r1": ["place_name": .string(nfc)]]), replicas: ["a"], views: ["a": view])
        #expect(failures.count == 1)  // …the checker does not.
    }
}
