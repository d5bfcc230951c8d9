/// Transport settings of a `CurlHTTPClient`.
///
/// Proxies: unless `proxy`/`noProxy` are set, libcurl reads them from the environment
/// (`http_proxy`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`); this client never disables that.
public struct CurlOptions: Sendable, Hashable {
    /// Limit for DNS + TCP + TLS connection set-up.
    public var connectTimeout: Duration
    /// Limit for a whole attempt (connect, send, receive); nil for none.
    public var totalTimeout: Duration?
    /// An attempt is aborted when it moves fewer than this many bytes/s for `lowSpeedTime`; 0 disables.
    public var lowSpeedLimit: Int
    /// How long the transfer may stay below `lowSpeedLimit` (whole seconds, at least 1).
    public var lowSpeedTime: Duration
    /// PEM bundle of a private CA to trust instead of the system store (CURLOPT_CAINFO).
    public var caFile: String?
    /// Verify the server certificate and host name (on by default; turn off only for tests).
    public var verifyTLS: Bool
    /// The server's pinned public key(s), `sha256//<base64>` joined by `;` (CURLOPT_PINNEDPUBLICKEY):
    /// a server whose key is not one of them is refused (`TransportError.Kind.pinMismatch`), and
    /// a pinned server needs no CA (`SPKIPins`).
    public var pinnedPublicKey: String?
    /// Value of the `User-Agent` header.
    public var userAgent: String
    /// Follow 3xx redirects (at most 5); off by default.
    public var followRedirects: Bool
    /// Explicit proxy URL; nil leaves libcurl's environment handling in place.
    public var proxy: String?
    /// Explicit comma-separated no-proxy host list; nil leaves libcurl's environment handling in place.
    public var noProxy: String?
    /// Let libcurl log the exchange to standard error (CURLOPT_VERBOSE).
    public var verbose: Bool
    /// Most response body bytes held, counted after decompression; a larger response fails
    /// with `TransportError.Kind.responseTooLarge` as soon as it passes the limit.
    public var maxResponseBytes: Int

    /// The default `maxResponseBytes`: 64 MiB.
    public static let defaultMaxResponseBytes = 64 << 20

    /// Creates options; every argument has a production-friendly default.
    public init(
        connectTimeout: Duration = .seconds(10),
        totalTimeout: Duration? = .seconds(120),
        lowSpeedLimit: Int = 1,
        lowSpeedTime: Duration = .seconds(30),
        caFile: String? = nil,
        verifyTLS: Bool = true,
        pinnedPublicKey: String? = nil,
        userAgent: String = "Outpost (libcurl)",
        followRedirects: Bool = false,
        proxy: String? = nil,
        noProxy: String? = nil,
        verbose: Bool = false,
        maxResponseBytes: Int = CurlOptions.defaultMaxResponseBytes
    ) {
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.lowSpeedLimit = lowSpeedLimit
        self.lowSpeedTime = lowSpeedTime
        self.caFile = caFile
        self.verifyTLS = verifyTLS
        self.pinnedPublicKey = pinnedPublicKey
        self.userAgent = userAgent
        self.followRedirects = followRedirects
        self.proxy = proxy
        self.noProxy = noProxy
        self.verbose = verbose
        self.maxResponseBytes = max(0, maxResponseBytes)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, never negative.
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return max(0, Int(clamping: ms))
    }

    /// The duration as fractional seconds.
    var fractionalSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
