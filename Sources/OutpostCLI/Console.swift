import Foundation

/// Writes lines to standard output and standard error.
enum Console {
    /// Writes `text` to standard output as is.
    static func out(_ text: String) {
        fflush(nil)
        writeAll(1, Array(text.utf8))
    }

    /// Writes `text` and a newline to standard error.
    static func err(_ text: String) {
        fflush(nil)
        writeAll(2, Array((text + "\n").utf8))
    }

    /// Rewrites a one-line progress message on standard error (nil clears it).
    static func progress(_ text: String?) {
        writeAll(2, Array(("\r\u{1B}[K" + (text ?? "")).utf8))
    }

    /// Writes `outpost: error: message` to standard error.
    static func error(_ message: String) { err("outpost: error: " + message) }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}
