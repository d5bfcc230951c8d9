import CCurl
import Foundation

/// Owns one libcurl easy handle and runs blocking transfers on it.
///
/// The handle is reused for every attempt (`curl_easy_reset` between transfers keeps its live
/// connections, DNS and TLS session caches), so consecutive requests to one host share a
/// keep-alive connection. Not thread-safe: `CurlHTTPClient` only uses it on its serial queue.
final class CurlEasyHandle {
    private let curl: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// One byte that an empty request body points at (libcurl wants a non-null POSTFIELDS).
    private let emptyBody: UnsafeMutablePointer<UInt8>

    /// Creates the handle; nil if libcurl could not be initialised.
    init?() {
        guard CurlGlobal.ensureInitialised(), let curl = curl_easy_init() else { return nil }
        self.curl = curl
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        emptyBody = .allocate(capacity: 1)
        emptyBody.initialize(to: 0)
    }

    deinit {
        curl_easy_cleanup(curl)
        errorBuffer.deallocate()
        emptyBody.deallocate()
    }

    /// Runs one attempt of `request`, blocking the calling thread until it ends.
    func perform(
        _ request: HTTPRequest, options: CurlOptions, cancellation: CancellationFlag,
        progress: CurlHTTPClient.ProgressHandler?
    ) -> AttemptOutcome {
        let label = Self.label(request)
        if let problem = Self.validate(request) {
            return .failure(kind: .invalidRequest, message: "\(label): \(problem)", curlCode: nil)
        }
        // A pin turns CA verification off (`configure`): one that is not a real pin must never get that far.
        if let pin = options.pinnedPublicKey, !SPKIPins.isValid(pin) {
            return .failure(
                kind: .invalidRequest, message: "\(label): the pinned key is not usable: \(SPKIPins.rule)", curlCode: nil)
        }
        if cancellation.isCancelled {
            return .failure(kind: .cancelled, message: "\(label): cancelled", curlCode: nil)
        }
        curl_easy_reset(curl)
        errorBuffer[0] = 0
        let context = TransferContext(
            cancellation: cancellation, progress: progress, maxBodyBytes: options.maxResponseBytes)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        let code: CURLcode = withExtendedLifetime(context) {
            request.body.withUnsafeBufferPointer { body -> CURLcode in
                var setup = Setup(curl: curl)
                configure(&setup, request: request, options: options, body: body)
                setup.pointer(CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
                installCallbacks(&setup, context: context)
                headerList = makeHeaderList(request, sendsBody: setup.sendsBody)
                if headerList == nil && !request.headers.fields.isEmpty {
                    setup.fail(CURLE_OUT_OF_MEMORY)
                }
                setup.slist(CURLOPT_HTTPHEADER, headerList)
                if setup.firstError != CURLE_OK { return setup.firstError }
                return curl_easy_perform(curl)
            }
        }
        if code == CURLE_OK {
            var status = 0
            _ = outpost_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
            var downloaded: curl_off_t = 0
            _ = outpost_curl_getinfo_off_t(curl, CURLINFO_SIZE_DOWNLOAD_T, &downloaded)
            var response = HTTPResponse(status: status, headers: context.headers, body: context.body)
            response.wireBodyBytes = Int(downloaded)
            return .response(response)
        }
        if context.bodyTooLarge {
            return .failure(
                kind: .responseTooLarge(limit: options.maxResponseBytes),
                message: "\(label): the response is larger than \(ByteCountText.text(options.maxResponseBytes)) "
                    + "(counted after decompression), the most this client holds; it stopped reading there",
                curlCode: Int(code.rawValue))
        }
        let kind = Self.kind(of: code, cancelled: cancellation.isCancelled)
        let detail =
            errorBuffer[0] != 0
            ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        return .failure(kind: kind, message: "\(label): \(detail)", curlCode: Int(code.rawValue))
    }

    /// Sets method, URL, body, timeouts, TLS, proxy and decoding options.
    private func configure(
        _ setup: inout Setup, request: HTTPRequest, options: CurlOptions, body: UnsafeBufferPointer<UInt8>
    ) {
        setup.string(CURLOPT_URL, request.url)
        setup.string(CURLOPT_PROTOCOLS_STR, "http,https")
        setup.string(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        setup.long(CURLOPT_NOSIGNAL, 1)
        setup.long(CURLOPT_TCP_KEEPALIVE, 1)
        // "" = offer every encoding libcurl was built with (gzip, deflate, br, zstd) and decode it.
        setup.string(CURLOPT_ACCEPT_ENCODING, "")
        setup.string(CURLOPT_USERAGENT, options.userAgent)
        setup.long(CURLOPT_CONNECTTIMEOUT_MS, options.connectTimeout.curlMilliseconds)
        if let total = options.totalTimeout {
            setup.long(CURLOPT_TIMEOUT_MS, total.curlMilliseconds)
        }
        if options.lowSpeedLimit > 0 {
            setup.long(CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimit)
            setup.long(CURLOPT_LOW_SPEED_TIME, max(1, (options.lowSpeedTime.curlMilliseconds + 999) / 1000))
        }
        if let pin = options.pinnedPublicKey {
            // A pinned server is trusted by its key, not by a CA: libcurl 7.88.1 (OpenSSL) checks
            // CURLOPT_PINNEDPUBLICKEY after every handshake whatever VERIFYPEER says (measured: a
            // wrong pin fails with error 90 with VERIFYPEER off, a right one passes; with VERIFYPEER
            // on, a self-signed server fails with error 60 even with the right pin). So VERIFYPEER is
            // off only here, with the pin always set beside it, and the host name is still checked
            // against the certificate. The TLS handshake proves the server holds the private key of
            // the pinned public key, which is stricter than any CA. Unpinned servers keep CA
            // verification (below). `TLSServerTests` holds these facts down (right pin 200, wrong
            // pin error 90, no pin error 60, wrong host name refused). The alternative, VERIFYPEER on
            // with an OpenSSL verify callback (CURLOPT_SSL_CTX_FUNCTION) that trusts a leaf
            // matching the pin, works too, but it needs OpenSSL linked beside libcurl, reports a
            // wrong pin as error 60 (not 90), and refuses a pinned server whenever the device's
            // clock is outside the certificate's dates: a field device with a reset clock could
            // then not sync at all, while the pin alone proves the server's identity.
            setup.long(CURLOPT_SSL_VERIFYPEER, 0)
            setup.long(CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0)
            setup.string(CURLOPT_PINNEDPUBLICKEY, pin)
        } else {
            setup.long(CURLOPT_SSL_VERIFYPEER, options.verifyTLS ? 1 : 0)
            setup.long(CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0)
        }
        if let caFile = options.caFile {
            setup.string(CURLOPT_CAINFO, caFile)
        }
        // Proxies: left to libcurl's environment handling unless set explicitly.
        if let proxy = options.proxy { setup.string(CURLOPT_PROXY, proxy) }
        if let noProxy = options.noProxy { setup.string(CURLOPT_NOPROXY, noProxy) }
        if options.followRedirects {
            setup.long(CURLOPT_FOLLOWLOCATION, 1)
            setup.long(CURLOPT_MAXREDIRS, 5)
        }
        if options.verbose { setup.long(CURLOPT_VERBOSE, 1) }

        let method = request.method.isEmpty ? "GET" : request.method
        let bodyMethods: Set<String> = ["POST", "PUT", "PATCH"]
        if method == "HEAD" && body.isEmpty {
            setup.long(CURLOPT_NOBODY, 1)
        } else if method == "GET" && body.isEmpty {
            setup.long(CURLOPT_HTTPGET, 1)
        } else if body.isEmpty && !bodyMethods.contains(method) {
            setup.string(CURLOPT_CUSTOMREQUEST, method)
        } else {
            // POSTFIELDS is not copied: `body` stays valid until curl_easy_perform returns.
            setup.sendsBody = true
            setup.long(CURLOPT_POST, 1)
            setup.offT(CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            setup.pointer(CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress ?? UnsafePointer(emptyBody)))
            if method != "POST" { setup.string(CURLOPT_CUSTOMREQUEST, method) }
        }
    }

    /// Routes body, header and progress callbacks to `context`.
    private func installCallbacks(_ setup: inout Setup, context: TransferContext) {
        let userdata = Unmanaged.passUnretained(context).toOpaque()
        setup.check(
            outpost_curl_setopt_data_callback(curl, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
                let length = size * count
                guard let data, let userdata else { return 0 }
                let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
                // Anything but `length` makes libcurl stop with CURLE_WRITE_ERROR.
                return context.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
            })
        setup.pointer(CURLOPT_WRITEDATA, userdata)
        setup.check(
            outpost_curl_setopt_data_callback(curl, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
                let length = size * count
                guard let data, let userdata else { return 0 }
                let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
                context.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
                return length
            })
        setup.pointer(CURLOPT_HEADERDATA, userdata)
        // The progress callback also polls for task cancellation (returning non-zero aborts).
        setup.check(
            outpost_curl_setopt_xferinfo_callback(curl, CURLOPT_XFERINFOFUNCTION) {
                userdata, downloadTotal, downloadNow, uploadTotal, uploadNow in
                guard let userdata else { return 0 }
                let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
                if context.cancellation.isCancelled { return 1 }
                context.progress?(
                    TransferProgress(
                        bytesSent: Int64(uploadNow), bytesToSend: Int64(uploadTotal),
                        bytesReceived: Int64(downloadNow), bytesToReceive: Int64(downloadTotal)))
                return 0
            })
        setup.pointer(CURLOPT_XFERINFODATA, userdata)
        setup.long(CURLOPT_NOPROGRESS, 0)
    }

    /// Builds the header list: caller's fields, minus libcurl's unwanted defaults.
    private func makeHeaderList(_ request: HTTPRequest, sendsBody: Bool) -> UnsafeMutablePointer<curl_slist>? {
        var lines = request.headers.map { field in
            // "Name:" would tell libcurl to drop the header; "Name;" sends it empty.
            field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)"
        }
        if !request.headers.contains("Expect") { lines.append("Expect:") }  // no 100-continue wait
        if sendsBody && !request.headers.contains("Content-Type") {
            // libcurl would claim application/x-www-form-urlencoded.
            lines.append(request.body.isEmpty ? "Content-Type:" : "Content-Type: application/octet-stream")
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let next = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                return nil
            }
            list = next
        }
        return list
    }

    /// "METHOD scheme://host/path" without the query, for messages.
    static func label(_ request: HTTPRequest) -> String {
        let url = request.url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.url
        return "\(request.method.isEmpty ? "GET" : request.method) \(url)"
    }

    /// A reason the request cannot be sent as is, or nil.
    static func validate(_ request: HTTPRequest) -> String? {
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        if !request.method.allSatisfy(tokenCharacters.contains) {
            return "invalid method \(request.method.debugDescription)"
        }
        if hasControlBytes(request.url) {
            return "URL contains a control character"
        }
        for field in request.headers {
            if field.name.isEmpty || !field.name.allSatisfy(tokenCharacters.contains) {
                return "invalid header name \(field.name.debugDescription)"
            }
            if hasControlBytes(field.value) {
                return "header \(field.name) contains a line break"
            }
        }
        return nil
    }

    /// Whether `text` holds NUL, CR or LF (checked on bytes: "\r\n" is a single Character).
    static func hasControlBytes(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0 || $0 == 10 || $0 == 13 }
    }

    /// Maps a libcurl failure to a transport error category.
    static func kind(of code: CURLcode, cancelled: Bool) -> TransportError.Kind {
        switch code {
        case CURLE_ABORTED_BY_CALLBACK:
            return cancelled ? .cancelled : .other
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return .unreachable
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE:
            return .connectionLost
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return .pinMismatch
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidURL
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_BAD_CONTENT_ENCODING,
            CURLE_TOO_MANY_REDIRECTS, CURLE_HTTP3, CURLE_RANGE_ERROR:
            return .protocolError
        default:
            return .other
        }
    }
}

/// Applies options to an easy handle, remembering the first failure.
private struct Setup {
    let curl: UnsafeMutableRawPointer
    var firstError = CURLE_OK
    /// Whether the request carries a body (POSTFIELDS set).
    var sendsBody = false

    mutating func check(_ code: CURLcode) {
        if firstError == CURLE_OK && code != CURLE_OK { firstError = code }
    }
    mutating func fail(_ code: CURLcode) { check(code) }
    mutating func long(_ option: CURLoption, _ value: Int) {
        check(outpost_curl_setopt_long(curl, option, value))
    }
    /// libcurl copies string options, so the temporary C string may go away after the call.
    mutating func string(_ option: CURLoption, _ value: String) {
        check(outpost_curl_setopt_string(curl, option, value))
    }
    mutating func pointer(_ option: CURLoption, _ value: UnsafeMutableRawPointer?) {
        check(outpost_curl_setopt_pointer(curl, option, value))
    }
    mutating func slist(_ option: CURLoption, _ value: UnsafeMutablePointer<curl_slist>?) {
        check(outpost_curl_setopt_slist(curl, option, value))
    }
    mutating func offT(_ option: CURLoption, _ value: curl_off_t) {
        check(outpost_curl_setopt_off_t(curl, option, value))
    }
}
