import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Store {
    /// Writes a consistent copy of the whole database to a new file at `path` (mode 0600), also
    /// while other connections or processes write to it; refuses a `path` that exists.
    ///
    /// The copy is made under a temporary name beside `path` (SQLite's online backup, one
    /// snapshot) and linked into place only when complete, so `path` never holds half a copy.
    public func backup(to path: String) throws(StoreError) {
        try Self.checkBackupTarget(path)
        let temporary = path + ".partial-\(getpid())-\(UUID().uuidString.prefix(8))"
        // Made here first, so the copy is never readable by others, even for a moment.
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.cannotWrite(path, errno) }
        close(descriptor)
        do throws(SQLiteError) {
            lock.lock()
            defer { lock.unlock() }
            try db.backup(to: temporary)
        } catch {
            Self.removeBackupFiles(temporary)
            throw StoreError(.storage, "cannot back up the store to \(path): \(error.message); nothing was written")
        }
        guard Self.syncFile(temporary) else {
            let code = errno
            Self.removeBackupFiles(temporary)
            throw Self.cannotWrite(path, code)
        }
        try Self.moveIntoPlace(temporary, path)
        Self.syncFile((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
    }

    /// Refuses a backup target that exists (a file, a folder, a dangling link) or whose folder does not.
    private static func checkBackupTarget(_ path: String) throws(StoreError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            let what = (info.st_mode & S_IFMT) == S_IFDIR ? "is a folder" : "already exists"
            throw StoreError(
                .alreadyExists,
                "\(path) \(what); a backup never overwrites anything: give the name of a new file; nothing was written")
        }
        let folder = (path as NSString).deletingLastPathComponent
        guard !folder.isEmpty else { return }
        var folderInfo = stat()
        guard stat(folder, &folderInfo) == 0 else {
            throw StoreError(.missing, "cannot write \(path): the folder \(folder) does not exist; nothing was written")
        }
        guard (folderInfo.st_mode & S_IFMT) == S_IFDIR else {
            throw StoreError(.missing, "cannot write \(path): \(folder) is not a folder; nothing was written")
        }
    }

    /// Gives the complete copy its final name without replacing a file made there meanwhile: a
    /// hard link fails when the name is taken; where the file system has no hard links, a rename
    /// after one more look.
    private static func moveIntoPlace(_ temporary: String, _ path: String) throws(StoreError) {
        defer { removeBackupFiles(temporary) }
        if link(temporary, path) == 0 { return }
        let code = errno
        if code == EEXIST {
            throw StoreError(
                .alreadyExists, "\(path) appeared while the backup was written; it was left as it is and nothing was written")
        }
        guard code == EPERM || code == EOPNOTSUPP || code == ENOTSUP || code == EMLINK else { throw cannotWrite(path, code) }
        var info = stat()
        guard lstat(path, &info) != 0 else {
            throw StoreError(
                .alreadyExists, "\(path) appeared while the backup was written; it was left as it is and nothing was written")
        }
        guard rename(temporary, path) == 0 else { throw cannotWrite(path, errno) }
    }

    private static func cannotWrite(_ path: String, _ code: Int32) -> StoreError {
        StoreError(.storage, "cannot write \(path): \(String(cString: strerror(code))); nothing was written")
    }

    /// Flushes a file (or folder) to the disk; false when it could not.
    @discardableResult
    private static func syncFile(_ path: String) -> Bool {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return fsync(descriptor) == 0
    }

    private static func removeBackupFiles(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
    }
}
