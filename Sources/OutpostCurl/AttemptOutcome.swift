/// What one `curl_easy_perform` produced: a complete response (any status) or a transport failure.
enum AttemptOutcome: Sendable {
    /// The server answered; status may be anything.
    case response(HTTPResponse)
    /// No complete response: category, message and libcurl code.
    case failure(kind: TransportError.Kind, message: String, curlCode: Int?)
}
