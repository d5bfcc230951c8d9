import CZlib

extension Gzip {
    /// Inflates a gzip (or zlib) stream fed in pieces as they arrive, counting the output and
    /// stopping at the first byte past the limit; memory grows only with output actually kept.
    public final class Inflater {
        // A final class owns the z_stream: zlib keeps pointers into it, so it must not move.
        private var stream = z_stream()
        private var output: [UInt8] = []
        private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        private var ended = false
        private var failed: GzipError?
        /// The largest output accepted.
        public let maxOutput: Int
        /// Bytes of output made so far.
        public private(set) var produced = 0
        /// Bytes of input inflated so far.
        public private(set) var consumed = 0

        /// Starts an inflater that refuses more than `maxOutput` bytes of output.
        public init(maxOutput: Int) throws(GzipError) {
            self.maxOutput = max(0, maxOutput)
            guard outpost_inflate_init_gzip(&stream) == Z_OK else { throw GzipError(message: "cannot start gzip decompression") }
        }

        deinit { inflateEnd(&stream) }

        /// Reserves room for about `count` bytes of output.
        public func reserve(_ count: Int) { output.reserveCapacity(min(count, maxOutput)) }

        /// Inflates the next piece of the stream.
        public func feed(_ input: UnsafeRawBufferPointer) throws(GzipError) {
            if let failed { throw failed }
            guard !input.isEmpty else { return }
            guard !ended else { throw fail(GzipError(message: "unexpected data after the end of the gzip stream")) }
            let base = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(input.count)
            defer {
                consumed += input.count - Int(stream.avail_in)
                stream.next_in = nil
                stream.avail_in = 0
            }
            // Until the input is used up and the last call left room (zlib holds no pending output).
            while !ended {
                var status: Int32 = Z_OK
                let made: Int = scratch.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END || (status == Z_BUF_ERROR && made == 0) else {
                    throw fail(GzipError(message: "the data is not a valid gzip stream (it may be truncated or altered)"))
                }
                if produced + made > maxOutput {
                    produced += made
                    throw fail(GzipError(message: "the data expands to more than \(maxOutput) bytes", kind: .tooLarge))
                }
                produced += made
                output.append(contentsOf: scratch[0..<made])
                if status == Z_STREAM_END {
                    ended = true
                } else if status == Z_BUF_ERROR || (stream.avail_in == 0 && made < scratch.count) {
                    break
                }
            }
            if ended && stream.avail_in != 0 {
                throw fail(GzipError(message: "unexpected data after the end of the gzip stream"))
            }
        }

        /// Inflates the next piece of the stream.
        public func feed(_ input: [UInt8]) throws(GzipError) {
            try input.withUnsafeBufferPointer { buffer throws(GzipError) in try feed(UnsafeRawBufferPointer(buffer)) }
        }

        /// The output made since the last call (the caller keeps what it needs; memory stays bounded
        /// by what one `feed` makes).
        public func takeOutput() -> [UInt8] {
            defer { output = [] }
            return output
        }

        /// Whether the stream has ended.
        public var isEnded: Bool { ended }

        /// The output not yet taken, once the stream has ended; an error when it is truncated.
        public func finish() throws(GzipError) -> [UInt8] {
            if let failed { throw failed }
            guard ended else { throw fail(GzipError(message: "the gzip stream is truncated")) }
            return output
        }

        private func fail(_ error: GzipError) -> GzipError {
            failed = error
            return error
        }
    }
}
