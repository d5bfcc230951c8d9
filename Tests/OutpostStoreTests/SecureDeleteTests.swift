import Foundation
import Testing

@testable import OutpostStore

/// Every store connection runs with `secure_delete`, and `checkpointAndTruncate` empties the
/// WAL: a deleted row's bytes are in no file of the store afterwards (issue 13).
@Suite struct SecureDeleteTests {
    /// Whether any file of `directory` contains `needle`.
    private func folderContains(_ needle: String, _ directory: String) throws -> Bool {
        try FileManager.default.contentsOfDirectory(atPath: directory).contains { name in
            FileManager.default.contents(atPath: directory + "/" + name)?.range(of: Data(needle.utf8)) != nil
        }
    }

    /// A scratch table in a store (its history is not involved): a row holding a canary is
    /// deleted, and after the checkpoint no file holds the canary. Without `secure_delete` the
    /// freed cell keeps its bytes in the database file.
    @Test func aDeletedRowLeavesNoBytesBehind() throws {
        let directory = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let canary = "OUTPOST_CANARY_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        do {
            let store = try Store.create(at: directory, reporter: "alice")
            try store.db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, value TEXT)")
            for i in 0..<20 {
                try store.db.execute("INSERT INTO scratch (id, value) VALUES (\(i), 'row \(i) of filler text')")
            }
            try store.db.execute("INSERT INTO scratch (id, value) VALUES (100, 'narrative: \(canary) saw it')")
            #expect(try store.checkpointAndTruncate())
            // Positive control: the row is in the database file.
            #expect(try folderContains(canary, directory))
            try store.db.execute("DELETE FROM scratch WHERE id = 100")
            #expect(try store.checkpointAndTruncate())
            #expect(try !folderContains(canary, directory))
            let wal = try FileManager.default.attributesOfItem(atPath: Store.databasePath(in: directory) + "-wal")[.size] as? Int
            #expect(wal == 0)
        }
    }
}
