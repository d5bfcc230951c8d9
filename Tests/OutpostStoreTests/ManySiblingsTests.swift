import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// A hostile author can send writes that never cover each other (empty `deps`): every one stays a
/// sibling, as the sync spec says. Applying and storing them must stay linear per batch (the
/// covered-sibling scan is skipped for empty deps, and the stored form finds each write through a
/// table); found by schemathesis pushing 5,000 such changes to one record, which held the server
/// for over 10 s in a debug build. This checks what must hold at that size; the time is measured
/// by `Tools/api-check.sh` running against the server.
@Suite struct ManySiblingsTests {
    @Test func fiveThousandConcurrentWritesStayAsSiblingsAndOneEditSettlesThem() throws {
        let root = NSTemporaryDirectory() + "/many-siblings-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store.create(at: root, reporter: "desk")
        let mallory = ReplicaID(bytes: Array(repeating: 7, count: 16))
        let changes = (1...5_000).map { i in
            TestKeys.signed(
                Change(
                    dot: Dot(replica: mallory, counter: UInt64(i)), record: RecordKey(id: "r1"), deps: VersionVector(),
                    tag: HLCTag(ms: 1_700_000_000_000, seq: 0), writes: ["title": .string("fire \(i)")]))
        }
        try store.applyRemote(Array(changes[..<2_500]))
        try store.applyRemote(Array(changes[2_500...]))

        let reopened = try Store.open(at: root)
        let record = try #require(try reopened.incident(id: "r1"))
        // Equal tags from one replica: the greater counter is visible.
        #expect(record.fields["title"] == "fire 5000")
        let siblings = try #require(try reopened.conflicts().first { $0.id == "r1" }?.fields.first { $0.field == "title" })
        #expect(siblings.siblings.count == 5_000)
        #expect(siblings.siblings.first?.value == "fire 5000")
        #expect(siblings.siblings.last?.value == "fire 1")

        // An edit made after seeing them all replaces every one.
        _ = try reopened.update(id: "r1", fields: ["title": "Market fire"])
        #expect(try reopened.conflicts().contains { $0.id == "r1" } == false)
        #expect(try reopened.incident(id: "r1")?.fields["title"] == "Market fire")
    }
}
