import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Store {
    /// The `meta` key under which a store records the identity of the database file it was made in.
    static let fileIdentityKey = "file_identity"

    /// The identity of the file at `path` as "device:inode" (`stat`), or nil when it cannot be read.
    ///
    /// A copy of the file (another folder, another device, a restored backup file) has another
    /// identity; the same file keeps its identity through every write, since SQLite writes in place.
    public static func fileIdentity(ofDatabaseAt path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino)"
    }

    /// The identity of this store's database file now (nil when it cannot be read).
    public var currentFileIdentity: String? { Self.fileIdentity(ofDatabaseAt: db.path) }

    /// The file identity this store recorded (`meta.file_identity`), or nil when it never recorded one.
    public func recordedFileIdentity() throws(StoreError) -> String? {
        try read { try metaText(Self.fileIdentityKey) }
    }

    /// Whether this store's database file is not the one it recorded: a copy (another folder, a
    /// restored backup file). False when it never recorded one (a store made before identities).
    public func databaseFileIsACopy() throws(StoreError) -> Bool {
        guard let recorded = try recordedFileIdentity() else { return false }
        return recorded != currentFileIdentity
    }

    /// Records `identity` as the identity of this store's database file.
    public func recordFileIdentity(_ identity: String) throws(StoreError) {
        try write { try setMeta(Self.fileIdentityKey, .text(identity)) }
    }
}

extension Store {
    /// A store whose database file is not the one it created (a copy or a restored backup) may
    /// hold an older counter than its replica has used: it continues under a new replica ID so it
    /// never reuses a dot (`trust.md`, "Restored stores"). A store made before file identities
    /// records its own now.
    func continueUnderANewReplicaIfCopied() throws {
        guard let current = currentFileIdentity else { return }
        let recorded = try recordedFileIdentity()
        if recorded == current { return }
        try write {
            if recorded != nil { _ = try rotateIdentityInTransaction() }
            try setMeta(Store.fileIdentityKey, .text(current))
        }
    }
}
