import CZlib

/// A gzip stream that could not be made or read.
public struct GzipError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    public var description: String { message }
}

/// gzip compression for sync bodies and bundles (zlib).
public enum Gzip {
    /// Compresses bytes into a gzip stream.
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        guard outpost_deflate_init_gzip(&stream, level) == Z_OK else { throw GzipError(message: "cannot start gzip compression") }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        let status: Int32 = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw GzipError(message: "gzip compression failed (\(status))") }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// Decompresses a gzip (or zlib) stream, refusing output larger than `maxOutput` bytes.
    public static func decompress(_ input: [UInt8], maxOutput: Int) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        guard outpost_inflate_init_gzip(&stream) == Z_OK else { throw GzipError(message: "cannot start gzip decompression") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf throws(GzipError) in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return outBuf.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    throw GzipError(message: "the data is not a valid gzip stream (it may be truncated or altered)")
                }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > maxOutput {
                    throw GzipError(message: "the data expands to more than \(maxOutput) bytes")
                }
                if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                    throw GzipError(message: "the gzip stream is truncated")
                }
            } while status != Z_STREAM_END
        }
        if stream.avail_in != 0 { throw GzipError(message: "unexpected data after the end of the gzip stream") }
        return output
    }

    /// Whether bytes start with the gzip magic number.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }
}
