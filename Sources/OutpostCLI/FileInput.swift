import Foundation

/// Reads whole input files (or standard input for `-`) as bytes.
public enum FileInput {
    /// The bytes of `path`, or of standard input when `path` is `-`.
    public static func read(_ path: String) throws(CLIError) -> [UInt8] {
        let fd: Int32
        if path == "-" {
            fd = 0
        } else {
            fd = open(path, O_RDONLY)
            if fd < 0 { throw unreadable(path, errno) }
        }
        defer { if fd != 0 { close(fd) } }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw CLIError(.invalidInput, "cannot read \(path): it is a folder")
        }
        var out: [UInt8] = []
        if fd != 0, st.st_size > 0 { out.reserveCapacity(Int(st.st_size) + 1) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { readChunk(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw unreadable(path, errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    private static func unreadable(_ path: String, _ code: Int32) -> CLIError {
        let name = path == "-" ? "standard input" : path
        return CLIError(.invalidInput, "cannot read \(name): \(String(cString: strerror(code)))")
    }
}

/// `read(2)`, named apart from `FileInput.read`.
private func readChunk(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
