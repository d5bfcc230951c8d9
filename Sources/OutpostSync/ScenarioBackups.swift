import Foundation
import OutpostStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The copies a scenario's `backup` steps make, and what its `restore_backup` steps do with them.
struct ScenarioBackups {
    /// Where the copies are kept (made at the first backup, removed with the run's stores).
    let folder: String
    /// A backup's name (its UTF-8 bytes: names are compared byte-wise) → the copy's database file.
    private var files: [[UInt8]: String] = [:]

    /// No backups yet; they will go in `folder`.
    init(folder: String) { self.folder = folder }

    /// Copies `store`'s whole database under `name`, as a backup would: the store's online
    /// backup, one consistent snapshot.
    mutating func make(_ name: String, of store: Store) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = (folder as NSString).appendingPathComponent("backup-\(files.count).db")
        try store.backup(to: path)
        files[Array(name.utf8)] = path
    }

    /// Replaces `replica`'s store by the copy `name` so that the store cannot tell from its
    /// files: the store is closed, the copy written over its database file in place (the same
    /// file, truncated and rewritten), and the store opened again in `stores`.
    func restore(_ name: String, into stores: inout [String: Store], replica: String) throws {
        guard let copy = files[Array(name.utf8)] else {
            throw StoreError(.missing, "there is no backup named \"\(name)\"")
        }
        let directory: String
        weak var closing: Store?
        do {
            guard let store = stores.removeValue(forKey: replica) else {
                throw StoreError(.missing, "replica \"\(replica)\" has no store")
            }
            directory = store.directory
            closing = store
        }
        // The store's connection closes with its last reference; one held elsewhere would keep
        // writing to the file being replaced.
        if let open = closing {
            stores[replica] = open
            throw StoreError(.invalidState, "the store of \"\(replica)\" is still in use, so it cannot be restored in place")
        }
        try Self.writeInPlace(copy: copy, over: Store.databasePath(in: directory))
        stores[replica] = try Store.open(at: directory)
    }

    /// Writes the database file `copy` over the closed database at `path` in place (same file:
    /// opened for writing, truncated, rewritten, flushed) after removing its `-wal`, `-shm` and
    /// `-journal` files, which belong to the old content.
    static func writeInPlace(copy: String, over path: String) throws {
        guard let bytes = FileManager.default.contents(atPath: copy), !bytes.isEmpty else {
            throw StoreError(.storage, "cannot read the backup \(copy)")
        }
        for suffix in ["-wal", "-shm", "-journal"] where unlink(path + suffix) != 0 && errno != ENOENT {
            throw StoreError(.storage, "cannot remove \(path + suffix): \(String(cString: strerror(errno)))")
        }
        // No O_CREAT: the file that is there, never a new one in its place.
        let descriptor = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw StoreError(.storage, "cannot open \(path) to write the backup over it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            var written = 0
            while written < raw.count {
                let count = write(descriptor, raw.baseAddress! + written, raw.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(.storage, "cannot write the backup over \(path): \(String(cString: strerror(errno)))")
                }
                written += count
            }
        }
        guard fsync(descriptor) == 0 else {
            throw StoreError(.storage, "cannot flush \(path): \(String(cString: strerror(errno)))")
        }
    }
}
