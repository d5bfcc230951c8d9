import Foundation

/// Destroys a store's files: overwrites every byte with random data, syncs, then unlinks.
///
/// Only the store's own files (`Store.isStoreFile`) are destroyed, never a symbolic link's
/// target; the folder is removed when nothing else is left in it, so a store kept in a folder
/// that also holds other files (`--store ~`) never costs the reporter those files.
public enum Shredder {
    /// What `shredStore` did.
    public struct Report: Hashable, Sendable {
        /// The files overwritten and removed, by name.
        public var shreddedFiles: [String] = []
        /// How many bytes were overwritten.
        public var overwrittenBytes: Int64 = 0
        /// Entries of the folder that are not the store's, left in place (by name).
        public var keptEntries: [String] = []
        /// Whether the folder itself was removed.
        public var removedFolder = false
    }

    /// `count` random bytes from the system's generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                var word = generator.next()
                let n = min(8, raw.count - offset)
                withUnsafeBytes(of: &word) {
                    raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n)
                }
                offset += n
            }
        }
        return bytes
    }

    /// Overwrites, syncs and removes every store file in `directory`, then removes the folder
    /// when it is empty; fails naming the file that could not be destroyed.
    public static func shredStore(in directory: String) throws(StoreError) -> Report {
        var report = Report()
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted() } catch {
            throw StoreError(.storage, "cannot list the store folder \(directory): \(error.localizedDescription)")
        }
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let isRegular = info.st_mode & S_IFMT == S_IFREG
            guard Store.isStoreFile(named: name) else {
                report.keptEntries.append(name)
                continue
            }
            if isRegular { report.overwrittenBytes += try overwrite(path) }
            // A link or anything else by a store file's name goes too, without following it.
            if unlink(path) != 0 && errno != ENOENT {
                throw StoreError(.storage, "cannot remove \(path): \(String(cString: strerror(errno)))")
            }
            report.shreddedFiles.append(name)
        }
        syncFolder(directory)
        if report.keptEntries.isEmpty {
            if rmdir(directory) != 0 {
                throw StoreError(.storage, "cannot remove the store folder \(directory): \(String(cString: strerror(errno)))")
            }
            report.removedFolder = true
            syncFolder((directory as NSString).deletingLastPathComponent)
        }
        return report
    }

    /// Overwrites a regular file's bytes with random data and syncs it; returns its size.
    static func overwrite(_ path: String) throws(StoreError) -> Int64 {
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(.storage, "cannot open \(path) to overwrite it: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError(.storage, "cannot read the size of \(path)") }
        let size = Int64(info.st_size)
        let chunk = 1 << 20
        var written: Int64 = 0
        while written < size {
            let bytes = randomBytes(Int(min(Int64(chunk), size - written)))
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(written)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError(.storage, "cannot overwrite \(path): \(String(cString: strerror(errno)))")
            }
            written += Int64(n)
        }
        guard fsync(fd) == 0 else { throw StoreError(.storage, "cannot sync \(path): \(String(cString: strerror(errno)))") }
        return size
    }

    /// Syncs a folder, so the removals in it are on disk.
    static func syncFolder(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
