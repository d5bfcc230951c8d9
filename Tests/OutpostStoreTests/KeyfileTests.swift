import Crypto
import Foundation
import Testing

@testable import OutpostStore

/// The keyfile: the data key opens only with the right passphrase and an untouched header.
@Suite struct KeyfileTests {
    /// A low scrypt cost keeps the tests quick; the format and checks are the same at 2^17.
    let cost: UInt8 = 10

    private func keyBytes(_ key: SymmetricKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    private func dataKey(_ unlocked: Keyfile.Unlocked) -> [UInt8]? {
        if case .dataKey(let key) = unlocked { return keyBytes(key) }
        return nil
    }

    private func isWrongPassphrase(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let failure as Keyfile.Failure {
            return failure.kind == .wrongPassphrase
        } catch {
            return false
        }
    }

    @Test func theRightPassphraseOpensTheDataKeyAndAWrongOneFails() throws {
        let key = SymmetricKey(size: .bits256)
        let file = try Keyfile.create(passphrase: "correct horse", reporter: "amina", dataKey: key, log2N: cost)
        #expect(file.bytes.count == Keyfile.size)
        #expect(dataKey(try file.unlock(passphrase: "correct horse")) == keyBytes(key))
        #expect(isWrongPassphrase { _ = try file.unlock(passphrase: "correct hors") })
        #expect(isWrongPassphrase { _ = try file.unlock(passphrase: "") })
    }

    @Test func theStandardCostIsScryptTwoToTheSeventeen() {
        #expect(Keyfile.standardLog2N == 17)
        #expect(Keyfile.acceptedLog2N.contains(Keyfile.standardLog2N))
    }

    /// Every header byte is authenticated: a changed salt, cost or slot count opens nothing,
    /// while the same bytes untouched (the positive control) open.
    @Test func aTamperedHeaderOpensNothing() throws {
        let key = SymmetricKey(size: .bits256)
        let pristine = try Keyfile.create(passphrase: "passphrase-1", reporter: "amina", dataKey: key, log2N: cost)
        #expect(dataKey(try Keyfile(bytes: pristine.bytes).unlock(passphrase: "passphrase-1")) == keyBytes(key))
        // The salt (bytes 13..<45) and N (byte 10, still in the accepted range).
        for (offset, change) in [(13, 0x01), (30, 0x80), (44, 0x10), (10, 0x01)] as [(Int, UInt8)] {
            var bytes = pristine.bytes
            bytes[offset] ^= change
            let tampered = try Keyfile(bytes: bytes)
            #expect(isWrongPassphrase { _ = try tampered.unlock(passphrase: "passphrase-1") }, "byte \(offset)")
        }
        // A byte of a sealed slot.
        var slotByte = pristine.bytes
        slotByte[Keyfile.headerSize + 100] ^= 0x01
        #expect(isWrongPassphrase { _ = try Keyfile(bytes: slotByte).unlock(passphrase: "passphrase-1") })
    }

    @Test func aCostOrVersionOutsideWhatOutpostAcceptsIsADamagedFile() throws {
        let file = try Keyfile.create(
            passphrase: "passphrase-1", reporter: "amina", dataKey: SymmetricKey(size: .bits256), log2N: cost)
        for (offset, value) in [(10, 40), (10, 4), (8, 2), (9, 7), (11, 9), (45, 3)] as [(Int, UInt8)] {
            var bytes = file.bytes
            bytes[offset] = value
            #expect(throws: Keyfile.Failure.self, "byte \(offset) = \(value)") { try Keyfile(bytes: bytes) }
        }
        #expect(throws: Keyfile.Failure.self) { try Keyfile(bytes: Array(file.bytes.dropLast())) }
        #expect(throws: Keyfile.Failure.self) { try Keyfile(bytes: Array("OUTPOSTX".utf8) + file.bytes.dropFirst(8)) }
    }

    @Test func afterAPassphraseChangeTheOldPassphraseFailsAndTheKeyIsTheSame() throws {
        let key = SymmetricKey(size: .bits256)
        let old = try Keyfile.create(passphrase: "old passphrase", reporter: "amina", dataKey: key, log2N: cost)
        let new = try old.rewrapped(
            oldPassphrase: "old passphrase", newPassphrase: "new passphrase", reporter: "amina", log2N: cost)
        #expect(dataKey(try new.unlock(passphrase: "new passphrase")) == keyBytes(key))
        #expect(isWrongPassphrase { _ = try new.unlock(passphrase: "old passphrase") })
        #expect(new.header == old.header && new.bytes != old.bytes, "the same salt and cost, a new slot")
        let costlier = try old.rewrapped(
            oldPassphrase: "old passphrase", newPassphrase: "new passphrase", reporter: "amina", log2N: cost + 1)
        #expect(costlier.log2N == cost + 1 && costlier.header != old.header)
        #expect(dataKey(try costlier.unlock(passphrase: "new passphrase")) == keyBytes(key))
        #expect(
            isWrongPassphrase {
                _ = try old.rewrapped(oldPassphrase: "wrong", newPassphrase: "x", reporter: "amina", log2N: cost)
            })
    }

    @Test func theDuressPassphraseOpensTheDuressMarkNotTheKey() throws {
        let key = SymmetricKey(size: .bits256)
        let plain = try Keyfile.create(passphrase: "real passphrase", reporter: "Amina Touré", dataKey: key, log2N: cost)
        let armed = try plain.withDuress(
            passphrase: "real passphrase", duressPassphrase: "duress passphrase", reporter: "Amina Touré")
        #expect(armed.bytes.count == plain.bytes.count, "the file's size does not tell whether a duress passphrase is set")
        #expect(armed.header == plain.header)
        #expect(dataKey(try armed.unlock(passphrase: "real passphrase")) == keyBytes(key))
        guard case .duress(let reporter) = try armed.unlock(passphrase: "duress passphrase") else {
            Issue.record("the duress passphrase did not open the duress slot")
            return
        }
        #expect(reporter == "Amina Touré")
        #expect(isWrongPassphrase { _ = try plain.unlock(passphrase: "duress passphrase") }, "positive control: unset before")
        // A passphrase change at the same cost keeps the duress passphrase armed.
        let changed = try armed.rewrapped(
            oldPassphrase: "real passphrase", newPassphrase: "changed passphrase", reporter: "Amina Touré", log2N: cost)
        #expect(dataKey(try changed.unlock(passphrase: "changed passphrase")) == keyBytes(key))
        guard case .duress = try changed.unlock(passphrase: "duress passphrase") else {
            Issue.record("a passphrase change disarmed the duress passphrase")
            return
        }
        #expect(isWrongPassphrase { _ = try armed.unlock(passphrase: "neither") })
        #expect(throws: Keyfile.Failure.self) {
            try plain.withDuress(passphrase: "real passphrase", duressPassphrase: "real passphrase", reporter: "a")
        }
        #expect(
            isWrongPassphrase {
                _ = try plain.withDuress(passphrase: "not it", duressPassphrase: "duress passphrase", reporter: "a")
            })
    }

    @Test func writtenKeyfilesAreOwnerOnlyAndDestroyedOnesAreGone() throws {
        let folder = NSTemporaryDirectory() + "outpost-keyfile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let key = SymmetricKey(size: .bits256)
        let file = try Keyfile.create(passphrase: "passphrase-1", reporter: "amina", dataKey: key, log2N: cost)
        try file.write(inStore: folder)
        let attributes = try FileManager.default.attributesOfItem(atPath: Keyfile.path(inStore: folder))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try Keyfile.read(inStore: folder) == file)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == [Keyfile.fileName], "no temporary file left")
        #expect(try Keyfile.destroy(inStore: folder))
        #expect(!Keyfile.exists(inStore: folder))
        #expect(throws: Keyfile.Failure.self) { try Keyfile.read(inStore: folder) }
        #expect(try Keyfile.destroy(inStore: folder) == false)
    }
}
