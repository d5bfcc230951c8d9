#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finding line feeds in bytes (libc's `memchr`, which scans many bytes at a time): the import's
/// line splitter and the bundle reader.
public enum LineFeeds {
    /// The index of the first line feed at or after `start`, or the end of `buffer`.
    public static func next(in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < buffer.count, let base = buffer.baseAddress,
            let found = memchr(base + start, 0x0A, buffer.count - start)
        else { return max(start, buffer.count) }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    /// The byte ranges of the lines of `buffer`, line feeds left out, empty lines too; text after
    /// the last line feed is not a line.
    public static func lines(in buffer: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while start < buffer.count {
            let end = next(in: buffer, from: start)
            guard end < buffer.count else { break }
            ranges.append(start..<end)
            start = end + 1
        }
        return ranges
    }
}
