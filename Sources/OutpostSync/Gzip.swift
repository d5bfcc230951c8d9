import CZlib

/// A gzip stream that could not be made or read.
public struct GzipError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why a stream was refused.
    public enum Kind: Hashable, Sendable {
        /// The stream is damaged, truncated or could not be made.
        case invalid
        /// The stream inflates to more than the limit (a gzip bomb, or simply too much).
        case tooLarge
    }

    /// What went wrong.
    public var message: String
    /// Why.
    public var kind: Kind

    /// Makes an error.
    public init(message: String, kind: Kind = .invalid) {
        self.message = message
        self.kind = kind
    }

    /// Whether the stream was refused for inflating past the limit.
    public var isTooLarge: Bool { kind == .tooLarge }

    public var description: String { message }
}

/// gzip compression for sync bodies and bundles (zlib).
public enum Gzip {
    /// The level for sync requests and responses: the fastest. A batch of changes packs to about
    /// 22% of its JSON at level 1 against 16% at level 6, for a third of the CPU time each way.
    public static let syncLevel: Int32 = 1

    /// Compresses bytes into a gzip stream.
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws(GzipError) -> [UInt8] {
        try deflateAll(input, flush: Z_FINISH) { outpost_deflate_init_gzip(&$0, level) }
    }

    /// The start of a gzip stream compressed ahead of its end: raw deflate blocks ending on a byte
    /// boundary (a sync flush, no final block), with the CRC-32 and length of the bytes they hold.
    public struct Part: Hashable, Sendable {
        /// The deflate blocks.
        public var deflated: [UInt8]
        /// CRC-32 of the uncompressed bytes.
        public var crc: UInt32
        /// Length of the uncompressed bytes.
        public var length: Int
    }

    /// Compresses the start of a stream, to be ended later by `finish(_:with:level:)`.
    public static func part(_ input: [UInt8], level: Int32 = syncLevel) throws(GzipError) -> Part {
        let deflated = try rawDeflate(input, level: level, flush: Z_SYNC_FLUSH)
        let crc = input.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return Part(deflated: deflated, crc: crc, length: input.count)
    }

    /// One gzip stream (a single member) of `start`'s bytes followed by `rest`: what `compress`
    /// makes of the whole, though not necessarily the same bytes.
    public static func finish(_ start: Part, with rest: [UInt8], level: Int32 = syncLevel) throws(GzipError) -> [UInt8] {
        let tail = try rawDeflate(rest, level: level, flush: Z_FINISH)
        let restCRC = rest.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        let crc = UInt32(truncatingIfNeeded: crc32_combine(uLong(start.crc), restCRC, off_t(rest.count)))
        let length = UInt32(truncatingIfNeeded: start.length + rest.count)
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]  // gzip, deflate, no flags, no time, unknown OS
        out.reserveCapacity(out.count + start.deflated.count + tail.count + 8)
        out.append(contentsOf: start.deflated)
        out.append(contentsOf: tail)
        for value in [crc, length] {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        return out
    }

    /// Raw deflate (no header or trailer) of `input`, ended by `flush`.
    private static func rawDeflate(_ input: [UInt8], level: Int32, flush: Int32) throws(GzipError) -> [UInt8] {
        try deflateAll(input, flush: flush) { stream in
            deflateInit2_(
                &stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        }
    }

    /// Deflates all of `input` in one call into a buffer of the stream's bound, ended by `flush`
    /// (`Z_FINISH` ends the stream; `Z_SYNC_FLUSH` ends on a byte boundary), after `start` set it up.
    private static func deflateAll(
        _ input: [UInt8], flush: Int32, start: (inout z_stream) -> Int32
    ) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        guard start(&stream) == Z_OK else { throw GzipError(message: "cannot start gzip compression") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 64
        var status: Int32 = Z_OK
        var done = false
        let output = [UInt8](unsafeUninitializedCapacity: bound) { outBuf, initialized in
            input.withUnsafeBufferPointer { inBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                status = deflate(&stream, flush)
            }
            done = flush == Z_FINISH ? status == Z_STREAM_END : (status == Z_OK && stream.avail_in == 0 && stream.avail_out > 0)
            initialized = done ? Int(stream.total_out) : 0
        }
        guard done else { throw GzipError(message: "gzip compression failed (\(status))") }
        return output
    }

    /// Decompresses a whole gzip (or zlib) stream as a stream: output is counted as it is made
    /// and inflation stops at the first byte past `maxOutput`, with a `GzipError` of kind `.tooLarge`.
    public static func decompress(_ input: [UInt8], maxOutput: Int) throws(GzipError) -> [UInt8] {
        let inflater = try Inflater(maxOutput: maxOutput)
        // The claimed size is trusted only up to 16 times the input: a forged trailer cannot make
        // a small request allocate `maxOutput` up front (real sync bodies pack about 5:1).
        inflater.reserve(min(max(0, maxOutput), max(4096, min(sizeHint(input), input.count * 16))))
        try input.withUnsafeBufferPointer { buffer throws(GzipError) in try inflater.feed(UnsafeRawBufferPointer(buffer)) }
        return try inflater.finish()
    }

    /// The uncompressed length a gzip trailer claims (mod 2^32), or a guess for other input.
    private static func sizeHint(_ input: [UInt8]) -> Int {
        guard isGzip(input), input.count >= 18 else { return input.count * 4 }
        let n = input.count
        return Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
    }

    /// Whether bytes start with the gzip magic number.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }
}
