import OutpostCore
import OutpostStore

/// Progress of a server sync, reported after each batch.
public struct SyncProgress: Hashable, Sendable {
    /// Own changes the server has acknowledged so far in this sync.
    public var sent: Int
    /// Changes received so far in this sync.
    public var received: Int
    /// Own changes still waiting to be sent.
    public var remainingToSend: Int
    /// Whether the server said more changes are waiting.
    public var moreToReceive: Bool
}

/// The outcome of a whole sync with the server.
public struct ServerSyncReport: Hashable, Sendable {
    /// Own changes the server acknowledged.
    public var sent = 0
    /// Changes received from the server.
    public var received = 0
    /// Incidents that have a conflict after the sync.
    public var conflicts = 0
    /// Batches exchanged.
    public var batches = 0
    /// The clock offset learned from the server (ms to add to the device clock).
    public var clockOffsetMs: Int64 = 0

    /// An empty report.
    public init() {}
}

/// Syncs a reporter's store with the server over a `ServerLink`, batch by batch.
///
/// Position is kept in the store: `server_acked_counter` (own changes the server holds) and
/// `server_pull_cursor` (server log position received), each saved in the same transaction as
/// the batch it belongs to, so a failed or killed sync loses nothing and the next one resumes.
public struct ServerSyncClient: Sendable {
    /// The reporter's store.
    public let store: Store
    /// The server.
    public let link: any ServerLink
    /// Most own changes per batch.
    public var pushLimit: Int
    /// Most changes pulled per batch.
    public var pullLimit: Int
    /// About the most bytes per batch each way.
    public var maxBytes: Int
    /// Device clock in ms (for learning the offset); replaceable in tests.
    public var deviceClock: @Sendable () -> Int64

    /// Setting holding the highest own counter the server acknowledged.
    public static let ackedCounterKey = "server_acked_counter"
    /// Setting holding the server log position received.
    public static let pullCursorKey = "server_pull_cursor"

    /// Makes a client.
    public init(store: Store, link: any ServerLink, pushLimit: Int = 1000, pullLimit: Int = 1000, maxBytes: Int = 1 << 20) {
        self.store = store
        self.link = link
        self.pushLimit = max(1, pushLimit)
        self.pullLimit = max(1, pullLimit)
        self.maxBytes = max(1024, maxBytes)
        self.deviceClock = store.systemClock
    }

    /// Sends every own change the server lacks and receives every change it has for us.
    public func run(progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> ServerSyncReport {
        var report = ServerSyncReport()
        let reporter = try store.reporter
        var acked = UInt64(try store.integerSetting(ServerSyncClient.ackedCounterKey))
        var cursor = try store.integerSetting(ServerSyncClient.pullCursorKey)
        var learnedOffset = false
        while true {
            let outgoing = try store.ownChanges(afterCounter: acked, limit: pushLimit, maxBytes: maxBytes)
            let changes = try outgoing.map { try $0.change() }
            let request = ServerSyncRequest(
                replica: store.replica, reporter: reporter, changes: changes, pullAfter: cursor, pullLimit: pullLimit,
                pullMaxBytes: maxBytes)
            let sentAt = deviceClock()
            let response = try await link.exchange(request)
            let receivedAt = deviceClock()
            if !learnedOffset {
                // The server's clock at the midpoint of the round trip, less the device's.
                report.clockOffsetMs = response.serverTimeMs - (sentAt + receivedAt) / 2
                try store.setClockOffset(ms: report.clockOffsetMs)
                learnedOffset = true
            }
            let newlyAcked = response.ackedCounter > acked ? Int(response.ackedCounter - acked) : 0
            report.sent += min(newlyAcked, changes.count)
            acked = response.ackedCounter
            try store.applyRemote(
                response.changes,
                settings: [
                    ServerSyncClient.ackedCounterKey: Int64(acked), ServerSyncClient.pullCursorKey: response.cursor,
                ])
            report.received += response.changes.count
            report.batches += 1
            cursor = response.cursor
            // The own change counter, not `status()`: that counts whole tables, once per batch.
            let own = try store.ownChangeCount
            let remaining = max(0, Int(own) - Int(acked))
            progress?(
                SyncProgress(
                    sent: report.sent, received: report.received, remainingToSend: remaining, moreToReceive: response.more))
            let pushedEverything = remaining == 0 || (changes.isEmpty && newlyAcked == 0)
            if pushedEverything && !response.more { break }
            if changes.count > 0 && newlyAcked == 0 && !response.more {
                // The server kept none of what we sent: stop rather than loop.
                throw ServerSyncStalled(counter: acked)
            }
        }
        report.conflicts = Int(try store.status().conflicts)
        return report
    }
}

/// The server acknowledged none of a batch it was sent, so the sync stopped instead of looping.
public struct ServerSyncStalled: Error, Hashable, Sendable, CustomStringConvertible {
    /// The acknowledged counter the server reported.
    public var counter: UInt64

    public var description: String {
        "the server did not acknowledge changes after #\(counter); nothing was lost, try again later"
    }
}
