/// Byte counts of a transfer in flight, reported to the optional progress handler.
public struct TransferProgress: Sendable, Hashable {
    /// Bytes of the request body uploaded so far.
    public var bytesSent: Int64
    /// Total request body bytes to upload (0 if unknown).
    public var bytesToSend: Int64
    /// Bytes of the response received so far (as transferred, before decompression).
    public var bytesReceived: Int64
    /// Total response bytes expected (0 if unknown).
    public var bytesToReceive: Int64

    /// Creates a progress value.
    public init(bytesSent: Int64, bytesToSend: Int64, bytesReceived: Int64, bytesToReceive: Int64) {
        self.bytesSent = bytesSent
        self.bytesToSend = bytesToSend
        self.bytesReceived = bytesReceived
        self.bytesToReceive = bytesToReceive
    }
}
