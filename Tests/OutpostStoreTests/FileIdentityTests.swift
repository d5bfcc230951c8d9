import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// A store tells its own database file from a copy of it by the file identity it recorded.
@Suite struct FileIdentityTests {
    @Test func aCopiedStoreHasAnotherIdentityTheOriginalTheSame() throws {
        let original = temporaryStoreDirectory()
        let copy = temporaryStoreDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: original)
            try? FileManager.default.removeItem(atPath: copy)
        }
        let originalPath = Store.databasePath(in: original)
        do {
            let store = try Store.create(at: original, reporter: "alice")
            #expect(try store.recordedFileIdentity() == nil)
            #expect(try !store.databaseFileIsACopy())
            let identity = try #require(Store.fileIdentity(ofDatabaseAt: originalPath))
            #expect(store.currentFileIdentity == identity)
            try store.recordFileIdentity(identity)
            _ = try store.create(id: "r1", fields: ["title": "before the copy"], wallMs: 1)
        }
        // Copy the folder's files (database, WAL, shared memory) as `cp` would, the store closed.
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: original) {
            try FileManager.default.copyItem(atPath: original + "/" + name, toPath: copy + "/" + name)
        }

        let copied = try Store.open(at: copy)
        #expect(try copied.incident(id: "r1")?.fields["title"] == "before the copy")
        let recordedInCopy = try #require(try copied.recordedFileIdentity())
        #expect(copied.currentFileIdentity != nil)
        #expect(copied.currentFileIdentity != recordedInCopy)
        #expect(try copied.databaseFileIsACopy())

        // Positive control: the original, written to since, still has the identity it recorded.
        let reopened = try Store.open(at: original)
        try reopened.update(id: "r1", fields: ["killed": 2], wallMs: 2)
        #expect(try reopened.recordedFileIdentity() == recordedInCopy)
        #expect(reopened.currentFileIdentity == recordedInCopy)
        #expect(Store.fileIdentity(ofDatabaseAt: originalPath) == recordedInCopy)
        #expect(try !reopened.databaseFileIsACopy())
    }

    @Test func aMissingFileHasNoIdentity() {
        #expect(Store.fileIdentity(ofDatabaseAt: temporaryStoreDirectory() + "/outpost.db") == nil)
    }
}
