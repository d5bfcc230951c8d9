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
    public init(store: Store, link: any ServerLink, pushLimit: Int = 5000, pullLimit: Int = 5000, maxBytes: Int = 4 << 20) {
        self.store = store
        self.link = link
        self.pushLimit = max(1, pushLimit)
        self.pullLimit = max(1, pullLimit)
        self.maxBytes = max(1024, maxBytes)
        self.deviceClock = store.systemClock
    }

    /// Sends every own change the server lacks and receives every change it has for us.
    ///
    /// Own changes go up as the stored JSON bytes, never parsed or re-encoded. One batch is in
    /// flight while the previous answer is applied: the next request is sent as soon as an answer
    /// arrives (it needs only that answer's acknowledgement and cursor), so the server works on it
    /// while the store commits the received changes. Position is still saved only with the batch
    /// it belongs to, so a failure or a kill at any point loses nothing and duplicates nothing.
    public func run(progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> ServerSyncReport {
        var report = ServerSyncReport()
        let reporter = try store.reporter
        var acked = UInt64(try store.integerSetting(ServerSyncClient.ackedCounterKey))
        var cursor = try store.integerSetting(ServerSyncClient.pullCursorKey)
        var learnedOffset = false
        var outgoing = try store.ownChanges(afterCounter: acked, limit: pushLimit, maxBytes: maxBytes)
        var inFlight = send(outgoing, compressedStart: nil, reporter: reporter, pullAfter: cursor)
        var ahead = prepare(after: outgoing, reporter: reporter)
        while true {
            let exchange = try await ServerSyncClient.wait(for: inFlight)
            let response = exchange.response
            if !learnedOffset {
                // The server's clock at the midpoint of the round trip, less the device's.
                report.clockOffsetMs = response.serverTimeMs - (exchange.sentAt + exchange.receivedAt) / 2
                try store.setClockOffset(ms: report.clockOffsetMs)
                learnedOffset = true
            }
            let sentCount = outgoing.count
            let newlyAcked = response.ackedCounter > acked ? Int(response.ackedCounter - acked) : 0
            report.sent += min(newlyAcked, sentCount)
            acked = response.ackedCounter
            cursor = response.cursor
            // The own change counter, not `status()`: that counts whole tables, once per batch.
            let own = try store.ownChangeCount
            let remaining = max(0, Int(own) - Int(acked))
            let pushedEverything = remaining == 0 || (sentCount == 0 && newlyAcked == 0)
            let finished = pushedEverything && !response.more
            // The server kept none of what we sent: stop rather than loop.
            let stalled = !finished && sentCount > 0 && newlyAcked == 0 && !response.more
            var next: Task<TimedExchange, any Error>?
            var readFailure: (any Error)?
            if !finished && !stalled {
                do {
                    var start: Gzip.Part?
                    if let ahead, ahead.after == acked {
                        // The server acknowledged all it was sent, as it normally does: the next
                        // batch was read and its changes compressed while this answer was awaited.
                        (outgoing, start) = (ahead.changes, ahead.compressedStart)
                    } else {
                        outgoing = try store.ownChanges(afterCounter: acked, limit: pushLimit, maxBytes: maxBytes)
                    }
                    next = send(outgoing, compressedStart: start, reporter: reporter, pullAfter: cursor)
                } catch {
                    readFailure = error  // thrown once this answer is saved
                }
            }
            ahead = nil
            do {
                try store.applyRemote(
                    response.changes,
                    settings: [
                        ServerSyncClient.ackedCounterKey: Int64(acked), ServerSyncClient.pullCursorKey: cursor,
                    ])
            } catch {
                // The request in flight is harmless (the server commits before it answers and
                // nothing here records it); stop it and wait, so no transfer outlives the sync.
                if let next {
                    next.cancel()
                    _ = try? await next.value
                }
                throw error
            }
            report.received += response.changes.count
            report.batches += 1
            progress?(
                SyncProgress(
                    sent: report.sent, received: report.received, remainingToSend: remaining, moreToReceive: response.more))
            if stalled { throw ServerSyncStalled(counter: acked) }
            if let readFailure { throw readFailure }
            guard let next else { break }
            inFlight = next
            ahead = prepare(after: outgoing, reporter: reporter)
        }
        report.conflicts = Int(try store.status().conflicts)
        return report
    }

    /// One exchange with the device clock read just before and after it.
    private struct TimedExchange: Sendable {
        var response: ServerSyncResponse
        var sentAt: Int64
        var receivedAt: Int64
    }

    /// Own changes read, and their part of the request compressed, ahead of the answer they follow.
    private struct Prepared {
        /// The counter they follow (the last one sent).
        var after: UInt64
        var changes: [StoredChange]
        var compressedStart: Gzip.Part
    }

    /// The batch after `sent`, made while `sent` is with the server; nil when there is none (or
    /// it cannot be made now: then it is read again once the answer is in).
    private func prepare(after sent: [StoredChange], reporter: String) -> Prepared? {
        guard let last = sent.last?.counter,
            let changes = try? store.ownChanges(afterCounter: last, limit: pushLimit, maxBytes: maxBytes), !changes.isEmpty
        else { return nil }
        let request = request(changes, reporter: reporter, pullAfter: 0)
        guard let start = try? Gzip.part(request.encodedStart()) else { return nil }
        return Prepared(after: last, changes: changes, compressedStart: start)
    }

    /// The request carrying `outgoing` (stored bytes as they are) and the pull after `pullAfter`.
    private func request(_ outgoing: [StoredChange], reporter: String, pullAfter: Int64) -> ServerSyncRequest {
        ServerSyncRequest(
            replica: store.replica, reporter: reporter, changes: [], rawChanges: outgoing.map(\.body), pullAfter: pullAfter,
            pullLimit: pullLimit, pullMaxBytes: maxBytes)
    }

    /// Starts one exchange: `outgoing` up (with its part already compressed, when given), the pull
    /// after `pullAfter` down.
    private func send(
        _ outgoing: [StoredChange], compressedStart: Gzip.Part?, reporter: String, pullAfter: Int64
    ) -> Task<TimedExchange, any Error> {
        var request = request(outgoing, reporter: reporter, pullAfter: pullAfter)
        request.compressedStart = compressedStart
        let message = request
        let link = self.link
        let clock = self.deviceClock
        return Task {
            let sentAt = clock()
            let response = try await link.exchange(message)
            return TimedExchange(response: response, sentAt: sentAt, receivedAt: clock())
        }
    }

    /// The exchange's outcome; cancelling the waiting task cancels the exchange.
    private static func wait(for exchange: Task<TimedExchange, any Error>) async throws -> TimedExchange {
        try await withTaskCancellationHandler {
            try await exchange.value
        } onCancel: {
            exchange.cancel()
        }
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
