import Foundation
import OutpostCore
import OutpostSync

/// The sync server reached over HTTP(S) with libcurl: `POST {server}/v1/sync`, gzip both ways.
public struct CurlServerLink: ServerLink {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    public let serverURL: String
    /// The device token.
    public let token: String
    private let clients: CurlClientPool
    private let progress: CurlHTTPClient.ProgressHandler?
    /// Bytes of request and response bodies on the wire (compressed), across every exchange.
    public let traffic = TrafficCounter()

    /// Largest response accepted, counted after decompression: a batch is about 4 MiB
    /// (`ServerSyncClient.maxBytes`), so this leaves room and stops a bomb early.
    public static let maxResponseBytes = CurlOptions.defaultMaxResponseBytes
    /// The response limit in use: `CurlOptions.maxResponseBytes`, at most `maxResponseBytes`.
    public let responseLimit: Int

    /// Makes a link; `options` and `retryPolicy` tune libcurl's timeouts and retries.
    public init(
        serverURL: String, token: String, options: CurlOptions = CurlOptions(), retryPolicy: RetryPolicy = .standard,
        progress: CurlHTTPClient.ProgressHandler? = nil
    ) throws(ServerLinkError) {
        var base = serverURL
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw ServerLinkError(.rejected, "server URL must start with http:// or https:// (got \(serverURL))")
        }
        self.serverURL = base
        self.token = token
        self.progress = progress
        var options = options
        options.maxResponseBytes = min(options.maxResponseBytes, CurlServerLink.maxResponseBytes)
        responseLimit = options.maxResponseBytes
        do { clients = try CurlClientPool(count: 2, options: options, retryPolicy: retryPolicy) } catch {
            throw ServerLinkError(.unreachable, "cannot start the HTTP client: \(error.message)")
        }
    }

    /// Two exchanges at once, each on its own connection: the server reads one batch while it
    /// commits the other.
    public var maxInFlight: Int { clients.count }

    public func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        let body: [UInt8]
        do { body = try request.gzipped() } catch {
            throw ServerLinkError(.invalidResponse, "cannot compress the request: \(error.message)")
        }
        let (bytes, status) = try await post(
            "/v1/sync", body, contentType: "application/json", gzipped: true, answerLimit: responseLimit)
        do {
            return try ServerSyncResponse.decode(try JSONParser.parse(bytes))
        } catch {
            throw ServerLinkError(.invalidResponse, "the server's answer is not a sync response: \(error)", status: status)
        }
    }

    /// `POST {server}/v1/parcels` with the parcel as `application/octet-stream` (it is compressed
    /// inside), with the token, TLS settings and pin of the sync requests.
    public func sendParcel(_ parcel: [UInt8]) async throws -> ParcelReceipt {
        let (bytes, status) = try await post(
            "/v1/parcels", parcel, contentType: "application/octet-stream", gzipped: false, answerLimit: 1 << 20)
        do {
            return try ParcelReceipt(json: try JSONParser.parse(bytes))
        } catch {
            throw ServerLinkError(
                .invalidResponse, "the server's answer to a parcel is not a parcel receipt: \(error)", status: status)
        }
    }

    /// POSTs `body` to `path` with the token and returns the answer's body (gunzipped, at most
    /// `answerLimit` bytes) and status; transport failures are mapped as `map` does.
    private func post(_ path: String, _ body: [UInt8], contentType: String, gzipped: Bool, answerLimit: Int)
        async throws -> (body: [UInt8], status: Int)
    {
        var http = HTTPRequest(method: "POST", url: serverURL + path)
        http.headers.set(name: "Authorization", value: "Bearer \(token)")
        http.headers.set(name: "Content-Type", value: contentType)
        if gzipped { http.headers.set(name: "Content-Encoding", value: "gzip") }
        http.body = body
        let response: HTTPResponse
        do {
            response = try await clients.send(http, progress: progress)
        } catch {
            throw CurlServerLink.map(error)
        }
        traffic.add(sent: body.count, received: response.wireBodyBytes)
        var bytes = response.body
        if Gzip.isGzip(bytes) {
            do { bytes = try Gzip.decompress(bytes, maxOutput: answerLimit) } catch {
                throw ServerLinkError(
                    .invalidResponse,
                    "the server's gzip answer is damaged or larger than \(ByteCountText.text(answerLimit)) "
                        + "(the most this client holds): \(error.message)", status: response.status)
            }
        }
        return (bytes, response.status)
    }

    /// Maps a transport failure onto the kinds the CLI tells apart, keeping the server's message.
    static func map(_ error: TransportError) -> ServerLinkError {
        let serverMessage = (try? JSONParser.parse(error.responseBody))?["error"]?["message"]?.stringValue
        switch error.kind {
        case .httpStatus(let status):
            let detail = serverMessage ?? "HTTP \(status)"
            switch status {
            case 401: return ServerLinkError(.unauthorized, "the server refused the token: \(detail)", status: status)
            case 403: return ServerLinkError(.forbidden, "the server refused this device: \(detail)", status: status)
            case 500...:
                return ServerLinkError(
                    .serverError, "the server failed after \(error.attempts) attempts: \(detail)", status: status)
            default: return ServerLinkError(.rejected, "the server refused the request: \(detail)", status: status)
            }
        case .invalidURL, .invalidRequest:
            return ServerLinkError(.rejected, error.message)
        case .pinMismatch:
            return ServerLinkError(
                .pinMismatch,
                "the server's TLS key does not match the pinned key (\(error.message)); nothing was sent. "
                    + "Check the server URL, and that the pin (`outpost config --pin`) is the one "
                    + "`outpost-server cert` printed for the certificate this server serves")
        case .tls:
            return ServerLinkError(
                .unreachable,
                "the server's TLS certificate or handshake was refused: \(error.message). A server with a "
                    + "self-signed certificate needs its pin (`outpost config --pin`, as `outpost-server cert` "
                    + "printed it), one with a private CA needs `outpost config --ca-file`; the URL's host must "
                    + "be a name the certificate holds (`outpost-server cert --host`)")
        case .responseTooLarge:
            return ServerLinkError(.invalidResponse, "the server's answer was refused: \(error.message)")
        default:
            return ServerLinkError(.unreachable, "the server is unreachable after \(error.attempts) attempts: \(error.message)")
        }
    }
}

/// Counts bytes on the wire; shared by every copy of a link.
public final class TrafficCounter: @unchecked Sendable {
    // @unchecked Sendable: both counters are only read and written while holding `lock`.
    private let lock = NSLock()
    private var sentBytes = 0
    private var receivedBytes = 0

    /// Makes a counter at zero.
    public init() {}

    /// Adds one exchange's bytes.
    public func add(sent: Int, received: Int) {
        lock.lock()
        sentBytes += sent
        receivedBytes += received
        lock.unlock()
    }

    /// Request body bytes sent so far.
    public var sent: Int {
        lock.lock()
        defer { lock.unlock() }
        return sentBytes
    }

    /// Response body bytes received so far.
    public var received: Int {
        lock.lock()
        defer { lock.unlock() }
        return receivedBytes
    }
}
