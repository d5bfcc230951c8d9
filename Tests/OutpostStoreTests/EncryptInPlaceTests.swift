import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// `Store.encryptInPlace`: a store made before encryption is sealed where it lies, and then
/// holds nothing in the clear while reading back exactly as before.
@Suite struct EncryptInPlaceTests {
    @Test func aPlaintextStoreSealedInPlaceLeavesNoCanaryAndReadsTheSame() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let canary = StoreEncryptionTests.newCanary()
        let (secrets, before) = try StoreEncryptionTests.canaryScenario(encrypted: false, in: dir, canary: canary)
        // Positive control: the plaintext store holds the canary and its signing keys.
        #expect(try StoreEncryptionTests.folderContains(Array(canary.utf8), dir))
        let replica = try Store.open(at: dir).replica

        let sealed = try Store.encryptInPlace(at: dir, cipher: try #require(TestCipher.cipher(true)))
        #expect(sealed > 20)
        #expect(try !StoreEncryptionTests.folderContains(Array(canary.utf8), dir))
        for secret in secrets { #expect(try !StoreEncryptionTests.folderContains(secret, dir)) }

        #expect(try Store.isEncrypted(at: dir))
        #expect(throws: StoreError.self) { try Store.open(at: dir) }
        let reopened = try Store.open(at: dir, cipher: TestCipher.cipher(true))
        #expect(reopened.isEncrypted)
        #expect(reopened.replica == replica, "the same device: its replica and key go on")
        let id = try #require(before.history.first?.change.record.id)
        #expect(try StoreEncryptionTests.outcome(reopened, id: id) == before)
        // It goes on working: a new edit is sealed too.
        try reopened.update(id: id, fields: ["narrative": .string("after \(canary)")])
        #expect(try reopened.checkpointAndTruncate())
        #expect(try !StoreEncryptionTests.folderContains(Array(canary.utf8), dir))
        #expect(try reopened.incident(id: id)?.fields["narrative"] == .string("after \(canary)"))
    }

    @Test func anEncryptedStoreIsNotSealedTwice() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(true))
        _ = try store.create(fields: ["title": "Market attack"])
        #expect {
            try Store.encryptInPlace(at: dir, cipher: try #require(TestCipher.cipher(true)))
        } throws: { ($0 as? StoreError)?.kind == .encrypted || ($0 as? StoreError)?.kind == .invalidState }
    }
}
