import Crypto
import Glibc

/// Talks to a store's unlock agent over `<store>/outpost.agent`; every call gives up after
/// `timeoutMilliseconds` and answers nil (or false) when there is no agent to ask.
public enum AgentClient {
    /// How long connecting, then the request and its answer, may take.
    static let timeoutMilliseconds: Int64 = 2000

    /// The data key the store's agent holds; nil when no agent runs (no socket, a stale socket,
    /// which is removed, a refused connection, or no answer in time).
    public static func dataKey(forStoreAt storePath: String) -> SymmetricKey? {
        guard let (socket, deadline) = ask("KEY", storePath) else { return nil }
        var bytes = [UInt8](repeating: 0, count: UnlockAgent.keyByteCount)
        defer { bytes.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) } }
        guard bytes.withUnsafeMutableBytes({ socket.read(into: $0, deadline: deadline) }) else { return nil }
        return SymmetricKey(data: bytes)
    }

    /// Tells the store's agent to forget the key and stop; true when one was running and did.
    /// Once true, the key is zeroed and the socket file is gone.
    @discardableResult
    public static func lock(storeAt storePath: String) -> Bool {
        guard let (socket, deadline) = ask("LOCK", storePath) else { return false }
        return socket.readLine(maxBytes: 8, deadline: deadline) == "OK"
    }

    /// The seconds left before the store's agent forgets the key; nil when no agent runs.
    public static func status(storeAt storePath: String) -> Int? {
        guard let (socket, deadline) = ask("STATUS", storePath),
            let line = socket.readLine(maxBytes: 32, deadline: deadline), line.hasPrefix("UNLOCKED "),
            let seconds = Int(line.dropFirst("UNLOCKED ".count)), seconds >= 0
        else { return nil }
        return seconds
    }

    /// A connection to the store's agent with `request` sent, and the deadline for its answer.
    private static func ask(_ request: String, _ storePath: String) -> (AgentSocket, Int64)? {
        let path = UnlockAgent.socketPath(forStoreAt: storePath)
        guard let before = UnlockAgent.FileStamp(of: path, followingLinks: false) else { return nil }
        let deadline = AgentSocket.Clock.milliseconds() + timeoutMilliseconds
        let socket: AgentSocket
        do throws(AgentSocket.Failure) {
            socket = try AgentSocket.connected(to: path, timeoutMilliseconds: Int(timeoutMilliseconds))
        } catch {
            // Nobody listens: an agent was killed and left its socket. Remove it unless replaced since.
            if error.code == ECONNREFUSED, before.isSocket,
                UnlockAgent.FileStamp(of: path, followingLinks: false)?.sameFile(as: before) == true
            {
                unlink(path)
            }
            return nil
        }
        // Only an agent of this user is trusted with the key (or asked to lock).
        guard let peer = socket.peerCredentials(), peer.uid == getuid(),
            socket.write(request + "\n", deadline: deadline)
        else { return nil }
        return (socket, deadline)
    }
}
