/// Per-attempt state that libcurl's C callbacks reach through their userdata pointer.
///
/// Not Sendable: created, filled by callbacks and read back within one `curl_easy_perform` call,
/// all on the client's serial queue.
final class TransferContext {
    /// Response body bytes received so far (decoded).
    var body: [UInt8] = []
    /// Most body bytes kept; the transfer is aborted when the body would grow past it.
    let maxBodyBytes: Int
    /// Set when the body passed `maxBodyBytes` and the transfer was aborted.
    private(set) var bodyTooLarge = false
    /// Header fields of the latest response seen (reset at each status line).
    var headers = HTTPHeaders()
    /// Set when the calling task is cancelled; makes the progress callback abort.
    let cancellation: CancellationFlag
    /// Optional caller progress handler.
    let progress: CurlHTTPClient.ProgressHandler?

    init(cancellation: CancellationFlag, progress: CurlHTTPClient.ProgressHandler?, maxBodyBytes: Int) {
        self.cancellation = cancellation
        self.progress = progress
        self.maxBodyBytes = maxBodyBytes
    }

    /// Keeps a piece of the (decoded) body; false, keeping nothing, when the body would pass
    /// `maxBodyBytes` (the write callback then makes libcurl abort the transfer).
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= maxBodyBytes - body.count else {
            bodyTooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Handles one raw header line from libcurl.
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var line = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = line.last, last.isNewline { line.removeLast() }  // "\r\n" is one Character
        if line.hasPrefix("HTTP/") {
            headers = HTTPHeaders()  // a new response (after 1xx, redirect or proxy CONNECT)
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingSpaces().lowercased()
        let value = line[line.index(after: colon)...].trimmingSpaces()
        guard !name.isEmpty else { return }
        headers.add(name: name, value: String(value))
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}
