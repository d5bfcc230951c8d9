import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// The corpus's `deliver` step (hand-made wire changes from a peer) and the clock bounds of
/// scenario files.
@Suite struct DeliverStepTests {
    private func scenario(_ steps: String, expect: String = "{}") -> [UInt8] {
        Array(#"{"name": "t", "replicas": ["alice", "server"], "steps": [\#(steps)], "expect": \#(expect)}"#.utf8)
    }

    private func change(id: String = "r1", counter: Int = 1, ms: String = "1772362800000") -> String {
        #"{"replica": "6d616c6c6f7279", "counter": \#(counter), "id": "\#(id)", "ms": \#(ms), "writes": {"title": "T"}}"#
    }

    private func parseError(_ bytes: [UInt8]) -> ScenarioError? {
        do {
            _ = try Scenario.parse(bytes, file: "f.json")
            return nil
        } catch { return error }
    }

    @Test func deliverStepsAreParsedStrictly() throws {
        let parsed = try Scenario.parse(
            scenario(#"{"deliver": {"to": "server", "changes": [\#(change())], "refused": true}}"#), file: "f.json")
        guard case .deliver(let to, let changes, let refused) = parsed.steps[0] else {
            Issue.record("not a deliver step: \(parsed.steps[0])")
            return
        }
        #expect(to == "server" && refused && changes.count == 1)
        #expect(try JSONParser.parse(changes[0])["id"] == "r1")
        let cases: [(String, String)] = [
            (#"{"deliver": {"to": "carol", "changes": [{}]}}"#, "deliver.to names unknown replica \"carol\""),
            (#"{"deliver": {"to": "server", "changes": []}}"#, "deliver.changes must be a non-empty array"),
            (#"{"deliver": {"to": "server", "changes": [{}], "refused": "yes"}}"#, "deliver.refused must be true or false"),
            (#"{"deliver": {"to": "server", "changes": [{}], "from": "alice"}}"#, "unknown key \"from\" in \"deliver\""),
            (#"{"at": "alice", "deliver": {"to": "server", "changes": [{}]}}"#, "\"at\" and \"clock\" belong to"),
        ]
        for (step, message) in cases {
            let error = parseError(scenario(step))
            #expect(error?.step == 0 && error?.message.contains(message) == true, "\(step): \(String(describing: error))")
        }
    }

    /// A clock outside 1970–9999 would make changes out of the bounds: refused, naming the step.
    @Test func clocksOutOfRangeAreRefused() throws {
        let early = parseError(
            scenario(#"{"at": "alice", "clock": "1969-12-31T23:59:59Z", "create": {"id": "r1", "fields": {"title": "T"}}}"#))
        #expect(early?.step == 0 && early?.message.contains("is out of range") == true, "\(String(describing: early))")
        _ = try Scenario.parse(
            scenario(#"{"at": "alice", "clock": "1970-01-01T00:00:00Z", "create": {"id": "r1", "fields": {"title": "T"}}}"#),
            file: "f.json")
    }

    private func run(_ steps: String, expect: String = "{}") async throws -> ScenarioOutcome {
        try await ScenarioRunner(temporaryRoot: testRoot).run(try Scenario.parse(scenario(steps, expect: expect), file: "t.json"))
    }

    /// A delivery that goes otherwise than the step says is a failed expectation, in words.
    @Test func aDeliveryThatGoesOtherwiseFails() async throws {
        let taken = try await run(#"{"deliver": {"to": "server", "changes": [\#(change())], "refused": true}}"#)
        #expect(
            taken.failures == [
                "steps[0] (deliver 1 change(s) to server, to be refused): expected the delivery to be refused, but it was taken"
            ])
        let refused = try await run(#"{"deliver": {"to": "server", "changes": [\#(change(ms: "-1"))]}}"#)
        #expect(refused.failures.count == 1)
        #expect(
            refused.failures.first?.contains("expected the delivery to be taken, but it was refused: changes[0]: ms must be")
                == true)
        let fine = try await run(
            #"{"deliver": {"to": "server", "changes": [\#(change())]}}, {"deliver": {"to": "server", "changes": [\#(change(id: "r2", counter: 2)), \#(change(id: "r 3", counter: 3))], "refused": true}}, {"sync": ["alice", "server"]}"#,
            expect: #"{"converged": ["alice", "server"], "records": {"r1": {"title": "T"}, "r2": null}}"#)
        #expect(fine.pass, "\(fine.failures)")
    }

    /// The step reads with the wire decoder and applies through the store: a refused batch
    /// leaves the store as it was (the runner checks that too), a taken one is stored.
    @Test func deliveriesGoThroughTheWireDecoderAndTheStore() async throws {
        let root = temporaryPath("deliver")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store.create(at: root, reporter: "server", replica: ReplicaID(bytes: Array("server".utf8)))
        let bad = [Array(change(ms: "-1").utf8)]
        #expect(try await ScenarioRunner.deliver(bad, to: store, refused: true) == nil)
        #expect(try store.incidents().isEmpty && store.lastSeq() == 0)
        let good = [Array(change().utf8)]
        #expect(try await ScenarioRunner.deliver(good, to: store, refused: false) == nil)
        #expect(try store.incidents().map(\.id) == ["r1"])
    }
}
