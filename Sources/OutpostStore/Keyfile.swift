import Crypto
import CryptoExtras
import Foundation

/// A store's keyfile (`outpost.key`): the data key wrapped by a key derived from the reporter's
/// passphrase with scrypt, in a versioned binary file whose header is authenticated.
///
/// Layout (version 1): magic `OUTPOSTK` (8), version (1), KDF = 1 for scrypt (1), log2 N (1),
/// r (1), p (1), salt (32), slot count = 2 (1); then two slots of 540 bytes, each a ChaChaPoly
/// box (nonce 12, ciphertext 512, tag 16) sealed under the passphrase's key with the 46-byte
/// header and the slot's index as associated data. So a changed salt, cost or version opens no
/// slot. A slot holds the kind (1: the data key, 2: the duress passphrase), 32 key bytes and
/// the reporter's name, padded. Slot 1 is random bytes until a duress passphrase is set, so the
/// file never tells whether one is.
public struct Keyfile: Sendable, Hashable {
    /// The keyfile's name inside the store folder.
    public static let fileName = "outpost.key"
    /// The scrypt cost (log2 of N) new keyfiles use: N = 2^17, r = 8, p = 1 (about 0.4 s and 128 MiB).
    public static let standardLog2N: UInt8 = 17
    /// The cost range a keyfile may name; outside it the file is damaged (or hostile).
    public static let acceptedLog2N: ClosedRange<UInt8> = 10...20

    static let magic = Array("OUTPOSTK".utf8)
    static let version: UInt8 = 1
    static let headerSize = 46
    static let slotPlaintextSize = 512
    static let slotSize = 12 + 512 + 16
    static let slotCount = 2
    /// The file's size in bytes.
    public static let size = headerSize + slotCount * slotSize

    /// What a passphrase opened.
    public enum Unlocked: Sendable {
        /// The store's data key.
        case dataKey(SymmetricKey)
        /// The duress passphrase: the caller wipes the store and starts a fresh one for `reporter`.
        case duress(reporter: String)
    }

    /// Why a keyfile could not be read or opened.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// The closed set of reasons.
        public enum Kind: Hashable, Sendable {
            /// The passphrase opens no slot (or the header was altered: the two look the same).
            case wrongPassphrase
            /// The file is not a keyfile this Outpost can read.
            case damaged
            /// The file system failed.
            case storage
        }
        /// The reason.
        public var kind: Kind
        /// What went wrong, in words.
        public var message: String
        /// Makes a failure.
        public init(_ kind: Kind, _ message: String) {
            self.kind = kind
            self.message = message
        }
        public var description: String { message }
    }

    /// The 46 authenticated header bytes.
    public private(set) var header: [UInt8]
    /// The two sealed slots.
    private(set) var slots: [[UInt8]]

    /// log2 of scrypt's N as the header says.
    public var log2N: UInt8 { header[10] }
    var salt: [UInt8] { Array(header[13..<45]) }

    /// The whole file's bytes.
    public var bytes: [UInt8] { header + slots.joined() }

    /// Reads a keyfile from its bytes, checking its shape (not yet its authenticity: `unlock` does).
    public init(bytes: [UInt8]) throws(Failure) {
        guard bytes.count >= Keyfile.headerSize, Array(bytes[0..<8]) == Keyfile.magic else {
            throw Failure(.damaged, "not an Outpost keyfile (its first bytes are not OUTPOSTK)")
        }
        guard bytes[8] == Keyfile.version else {
            throw Failure(.damaged, "keyfile version \(bytes[8]) is not one this Outpost reads (it reads \(Keyfile.version))")
        }
        guard bytes[9] == 1 else { throw Failure(.damaged, "the keyfile names an unknown key derivation (\(bytes[9]))") }
        guard Keyfile.acceptedLog2N.contains(bytes[10]), bytes[11] == 8, bytes[12] == 1 else {
            throw Failure(
                .damaged,
                "the keyfile's scrypt cost (N = 2^\(bytes[10]), r = \(bytes[11]), p = \(bytes[12])) is outside what Outpost accepts; the file is damaged"
            )
        }
        guard bytes[45] == UInt8(Keyfile.slotCount), bytes.count == Keyfile.size else {
            throw Failure(.damaged, "the keyfile is \(bytes.count) bytes, not \(Keyfile.size); it is damaged")
        }
        header = Array(bytes[0..<Keyfile.headerSize])
        slots = (0..<Keyfile.slotCount).map { i in
            let start = Keyfile.headerSize + i * Keyfile.slotSize
            return Array(bytes[start..<start + Keyfile.slotSize])
        }
    }

    private init(header: [UInt8], slots: [[UInt8]]) {
        self.header = header
        self.slots = slots
    }

    /// A new keyfile wrapping `dataKey` under `passphrase` (slot 0) with a random slot 1.
    public static func create(
        passphrase: String, reporter: String, dataKey: SymmetricKey, log2N: UInt8 = standardLog2N
    ) throws(Failure) -> Keyfile {
        let header = makeHeader(log2N: log2N)
        let kek = try derive(passphrase, header: header)
        let slot0 = try seal(kind: 1, key: dataKey, reporter: reporter, kek: kek, header: header, index: 0)
        return Keyfile(header: header, slots: [slot0, Shredder.randomBytes(slotSize)])
    }

    /// Opens the slot `passphrase` unlocks: the data key, or the duress mark.
    public func unlock(passphrase: String) throws(Failure) -> Unlocked {
        let kek = try Keyfile.derive(passphrase, header: header)
        for index in 0..<Keyfile.slotCount {
            guard let plain = open(slot: index, kek: kek) else { continue }
            let key = SymmetricKey(data: plain[1..<33])
            let length = Int(plain[33]) << 8 | Int(plain[34])
            guard 35 + length <= plain.count else { continue }
            let reporter = String(decoding: plain[35..<35 + length], as: UTF8.self)
            switch plain[0] {
            case 1: return .dataKey(key)
            case 2: return .duress(reporter: reporter)
            default: continue
            }
        }
        throw Failure(.wrongPassphrase, "wrong passphrase")
    }

    /// The same data key under `newPassphrase`. At the same cost the header (salt) and the duress
    /// slot stay as they are; at another cost both are new (set the duress passphrase again).
    /// Rows are not rewritten: only the wrapping changes.
    public func rewrapped(
        oldPassphrase: String, newPassphrase: String, reporter: String, log2N: UInt8 = standardLog2N
    ) throws(Failure) -> Keyfile {
        guard case .dataKey(let key) = try unlock(passphrase: oldPassphrase) else {
            throw Failure(.wrongPassphrase, "wrong passphrase")
        }
        return try rewrapped(dataKey: key, newPassphrase: newPassphrase, reporter: reporter, log2N: log2N)
    }

    /// `rewrapped(oldPassphrase:…)` for a caller that already opened the data key (one scrypt
    /// derivation, for the new passphrase, instead of two).
    public func rewrapped(
        dataKey key: SymmetricKey, newPassphrase: String, reporter: String, log2N: UInt8 = standardLog2N
    ) throws(Failure) -> Keyfile {
        guard log2N == self.log2N else {
            return try Keyfile.create(passphrase: newPassphrase, reporter: reporter, dataKey: key, log2N: log2N)
        }
        let kek = try Keyfile.derive(newPassphrase, header: header)
        var copy = self
        copy.slots[0] = try Keyfile.seal(kind: 1, key: key, reporter: reporter, kek: kek, header: header, index: 0)
        return copy
    }

    /// This keyfile with `duressPassphrase` in slot 1; `passphrase` must open the data key, and the
    /// two must differ.
    public func withDuress(passphrase: String, duressPassphrase: String, reporter: String) throws(Failure) -> Keyfile {
        guard case .dataKey = try unlock(passphrase: passphrase) else {
            throw Failure(.wrongPassphrase, "wrong passphrase")
        }
        guard duressPassphrase != passphrase else {
            throw Failure(.wrongPassphrase, "the duress passphrase must differ from the passphrase")
        }
        return try withDuress(duressPassphrase: duressPassphrase, reporter: reporter)
    }

    /// `withDuress(passphrase:…)` for a caller that already checked the passphrase and that the
    /// two differ (one scrypt derivation instead of two).
    public func withDuress(duressPassphrase: String, reporter: String) throws(Failure) -> Keyfile {
        // The same salt, so one derivation per try opens either slot.
        let kek = try Keyfile.derive(duressPassphrase, header: header)
        let marker = SymmetricKey(size: .bits256)
        var copy = self
        copy.slots[1] = try Keyfile.seal(kind: 2, key: marker, reporter: reporter, kek: kek, header: header, index: 1)
        return copy
    }

    /// This keyfile with slot 1 random again: no duress passphrase (and the file cannot tell).
    public func withoutDuress() -> Keyfile {
        var copy = self
        copy.slots[1] = Shredder.randomBytes(Keyfile.slotSize)
        return copy
    }

    // MARK: files

    /// The keyfile's path inside a store folder.
    public static func path(inStore directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// Whether the store folder has a keyfile.
    public static func exists(inStore directory: String) -> Bool {
        FileManager.default.fileExists(atPath: path(inStore: directory))
    }

    /// Reads the keyfile of a store folder.
    public static func read(inStore directory: String) throws(Failure) -> Keyfile {
        let path = path(inStore: directory)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(.storage, "cannot read the keyfile \(path)")
        }
        return try Keyfile(bytes: Array(data))
    }

    /// Writes the keyfile into a store folder: a temporary file (mode 0600), synced, then renamed
    /// over the old one and the folder synced, so a crash leaves the old or the new file whole.
    public func write(inStore directory: String) throws(Failure) {
        let path = Keyfile.path(inStore: directory)
        let temporary = path + ".new-\(getpid())"
        let fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(.storage, "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = self.bytes
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            unlink(temporary)
            throw Failure(.storage, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(.storage, "cannot move the new keyfile into place at \(path): \(String(cString: strerror(errno)))")
        }
        Shredder.syncFolder(directory)
    }

    // MARK: crypto

    private static func makeHeader(log2N: UInt8) -> [UInt8] {
        magic + [version, 1, log2N, 8, 1] + Shredder.randomBytes(32) + [UInt8(slotCount)]
    }

    /// The key-encryption key of `passphrase` under the header's salt and cost.
    private static func derive(_ passphrase: String, header: [UInt8]) throws(Failure) -> SymmetricKey {
        let log2N = Int(header[10])
        do {
            return try KDF.Scrypt.deriveKey(
                from: Array(passphrase.utf8), salt: Array(header[13..<45]), outputByteCount: 32,
                rounds: 1 << log2N, blockSize: Int(header[11]), parallelism: Int(header[12]),
                maxMemory: 128 * Int(header[11]) * (1 << log2N) + 16 << 20)
        } catch {
            throw Failure(.damaged, "scrypt failed for the keyfile's cost N = 2^\(log2N): \(error)")
        }
    }

    private static func seal(
        kind: UInt8, key: SymmetricKey, reporter: String, kek: SymmetricKey, header: [UInt8], index: UInt8
    ) throws(Failure) -> [UInt8] {
        let name = Array(reporter.utf8)
        guard name.count <= slotPlaintextSize - 35 else {
            throw Failure(.damaged, "the reporter name is too long for the keyfile (\(name.count) bytes)")
        }
        var plain = [kind] + key.withUnsafeBytes { Array($0) } + [UInt8(name.count >> 8), UInt8(name.count & 0xff)] + name
        plain += [UInt8](repeating: 0, count: slotPlaintextSize - plain.count)
        defer { plain.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
        do {
            return Array(try ChaChaPoly.seal(plain, using: kek, authenticating: header + [index]).combined)
        } catch {
            throw Failure(.damaged, "cannot seal a keyfile slot: \(error)")
        }
    }

    private func open(slot index: Int, kek: SymmetricKey) -> [UInt8]? {
        guard let box = try? ChaChaPoly.SealedBox(combined: slots[index]),
            let plain = try? ChaChaPoly.open(box, using: kek, authenticating: header + [UInt8(index)])
        else { return nil }
        return Array(plain)
    }
}

extension Keyfile {
    /// Destroys the keyfile of a store folder: overwritten with random bytes, synced, unlinked,
    /// and the folder synced. Without it no passphrase opens the store's data again. True when
    /// there was one.
    @discardableResult
    public static func destroy(inStore directory: String) throws(StoreError) -> Bool {
        let path = path(inStore: directory)
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        if info.st_mode & S_IFMT == S_IFREG { _ = try Shredder.overwrite(path) }
        if unlink(path) != 0 && errno != ENOENT {
            throw StoreError(.storage, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        Shredder.syncFolder(directory)
        return true
    }
}
