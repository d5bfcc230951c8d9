import CCurl

/// Process-wide libcurl initialisation, done exactly once.
enum CurlGlobal {
    /// CURLcode of the single `curl_global_init` call; Swift runs a static's initialiser once,
    /// thread-safely, the first time it is read.
    static let initCode: Int = Int(curl_global_init(Int(CURL_GLOBAL_DEFAULT)).rawValue)

    /// Makes sure `curl_global_init` has run; returns false if it failed.
    static func ensureInitialised() -> Bool {
        initCode == Int(CURLE_OK.rawValue)
    }
}
