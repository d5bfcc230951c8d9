/// One HTTP header field (name and value) as sent or received.
public struct HTTPHeader: Sendable, Hashable {
    /// Field name; lower-cased in responses, as given in requests.
    public var name: String
    /// Field value without surrounding whitespace.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
