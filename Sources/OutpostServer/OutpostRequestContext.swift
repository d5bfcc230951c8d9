import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage plus the client's address,
/// which the failed-authentication limit is counted by.
public struct OutpostRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Core context.
    public var coreContext: CoreRequestContextStorage
    /// The connection's peer, when there is one (not in router tests).
    public let remoteAddress: SocketAddress?

    /// Makes the context of a request on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address as text ("unknown" without a peer), the key of its rate limits.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
