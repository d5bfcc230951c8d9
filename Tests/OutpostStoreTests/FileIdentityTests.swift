import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// A store tells its own database file from a copy of it by the file identity it recorded.
@Suite struct FileIdentityTests {
    @Test func aCopiedStoreContinuesUnderANewReplicaAndTheOriginalKeepsItsOwn() throws {
        let original = temporaryStoreDirectory()
        let copy = temporaryStoreDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: original)
            try? FileManager.default.removeItem(atPath: copy)
        }
        let originalPath = Store.databasePath(in: original)
        let replica: ReplicaID
        let identity: String
        do {
            let store = try Store.create(at: original, reporter: "alice")
            replica = store.replica
            identity = try #require(Store.fileIdentity(ofDatabaseAt: originalPath))
            #expect(try store.recordedFileIdentity() == identity)  // recorded when it was made
            #expect(try !store.databaseFileIsACopy())
            _ = try store.create(id: "r1", fields: ["title": "before the copy"], wallMs: 1)
        }
        // Copy the folder's files (database, WAL, shared memory) as `cp` would, the store closed.
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: original) {
            try FileManager.default.copyItem(atPath: original + "/" + name, toPath: copy + "/" + name)
        }

        let copied = try Store.open(at: copy)
        #expect(try copied.incident(id: "r1")?.fields["title"] == "before the copy")
        #expect(copied.currentFileIdentity != identity)
        // The copy knew it was one: it went on under a new replica and now owns its file.
        #expect(copied.replica != replica)
        #expect(try copied.previousReplicas() == [replica])
        #expect(try copied.recordedFileIdentity() == copied.currentFileIdentity)
        #expect(try !copied.databaseFileIsACopy())
        // Its change that never left the store is re-issued under the new replica (counter 1).
        #expect(try copied.history(id: "r1").map(\.change.dot) == [Dot(replica: copied.replica, counter: 1)])
        let next = try copied.update(id: "r1", fields: ["injured": 1], wallMs: 3)
        #expect(next.dot == Dot(replica: copied.replica, counter: 2))

        // Positive control: the original, written to since, keeps its identity and its replica.
        let reopened = try Store.open(at: original)
        try reopened.update(id: "r1", fields: ["killed": 2], wallMs: 2)
        #expect(reopened.replica == replica)
        #expect(try reopened.recordedFileIdentity() == identity)
        #expect(Store.fileIdentity(ofDatabaseAt: originalPath) == identity)
        #expect(try !reopened.databaseFileIsACopy())
    }

    @Test func aMissingFileHasNoIdentity() {
        #expect(Store.fileIdentity(ofDatabaseAt: temporaryStoreDirectory() + "/outpost.db") == nil)
    }
}
