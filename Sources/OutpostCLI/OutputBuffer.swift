import Foundation

/// A byte buffer that hands full chunks to a sink, so large outputs stream with little memory.
public final class OutputBuffer {
    /// Bytes not yet flushed.
    public private(set) var bytes: [UInt8] = []
    private let sink: ([UInt8]) -> Void
    private let chunkSize: Int

    /// Makes a buffer flushing to `sink` whenever `chunkSize` bytes are pending.
    public init(chunkSize: Int = 1 << 16, sink: @escaping ([UInt8]) -> Void) {
        self.sink = sink
        self.chunkSize = chunkSize
        bytes.reserveCapacity(chunkSize + 4096)
    }

    /// A buffer writing to standard output.
    public static func standardOutput() -> OutputBuffer {
        OutputBuffer { chunk in
            fflush(nil)
            chunk.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(1, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += n
                }
            }
        }
    }

    /// Appends UTF-8 text.
    public func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        flushIfFull()
    }

    /// Appends bytes.
    public func append(bytes more: [UInt8]) {
        bytes.append(contentsOf: more)
        flushIfFull()
    }

    /// Appends through a closure writing into the buffer directly.
    public func append(_ body: (inout [UInt8]) -> Void) {
        body(&bytes)
        flushIfFull()
    }

    private func flushIfFull() {
        if bytes.count >= chunkSize { flush() }
    }

    /// Hands every pending byte to the sink.
    public func flush() {
        guard !bytes.isEmpty else { return }
        sink(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
