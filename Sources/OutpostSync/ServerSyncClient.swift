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
    /// Answers in a row that may move nothing (no new acknowledgement, no pull position past the
    /// furthest one seen) before the sync stops with `ServerSyncNoProgress`.
    public static let idleAnswerLimit = 3

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
    /// Own changes go up as the stored JSON bytes, never parsed or re-encoded. The next request is
    /// sent as soon as an answer arrives (it needs only that answer's acknowledgement and cursor),
    /// so the server works on it while the store commits the received changes. A link that carries
    /// two exchanges at once (`ServerLink.maxInFlight`) gets a second batch of own changes while the
    /// first is with the server, so the server reads one batch while it commits the other.
    ///
    /// Only one request in flight pulls (the others ask for no changes, as the cursor they would
    /// need is in an answer still to come); a pulling request asks for as many more as requests
    /// went without pulling, so the cursor keeps up with the log. Position is still saved only
    /// with the answer it belongs to, the acknowledgement only ever grows, and the server commits
    /// each batch before it answers, so a failure or a kill at any point loses nothing and
    /// duplicates nothing: the next sync resends from what was acknowledged.
    public func run(progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> ServerSyncReport {
        var report = ServerSyncReport()
        let reporter = try store.reporter
        var acked = UInt64(try store.integerSetting(ServerSyncClient.ackedCounterKey))
        var cursor = try store.integerSetting(ServerSyncClient.pullCursorKey)
        var learnedOffset = false
        var more = true
        // Own changes up to this counter were sent in this sync (or acknowledged before it).
        var sentThrough = acked
        // Requests sent without a pull since the last one that pulls.
        var skippedPulls = 0
        // One exchange until the first answer is in (it binds the device and learns the clock).
        var depth = 1
        var queue: [InFlight] = []
        let first = try store.ownChanges(afterCounter: acked, limit: pushLimit, maxBytes: maxBytes)
        queue.append(send(first, compressedStart: nil, reporter: reporter, pullAfter: cursor, pullLimit: pullLimit))
        sentThrough = first.last?.counter ?? acked
        var ahead = first.last.flatMap { prepare(afterCounter: $0.counter, reporter: reporter) }
        // The furthest pull position the server has given, and how many answers in a row moved
        // neither it nor the acknowledgement: a server that keeps answering "more" from the same
        // place would otherwise be asked the same thing forever.
        var furthestCursor = cursor
        var idleAnswers = 0
        while !queue.isEmpty {
            let head = queue.removeFirst()
            let exchange: TimedExchange
            do {
                exchange = try await ServerSyncClient.wait(for: head.task)
            } catch {
                await ServerSyncClient.stop(queue)
                throw error
            }
            let response = exchange.response
            if !learnedOffset {
                // The server's clock at the midpoint of the round trip, less the device's (the
                // only request in flight was this one).
                report.clockOffsetMs = response.serverTimeMs - (exchange.sentAt + exchange.receivedAt) / 2
                try store.setClockOffset(ms: report.clockOffsetMs)
                learnedOffset = true
                depth = max(1, min(2, link.maxInFlight))
            }
            let newlyAcked = response.ackedCounter > acked ? Int(response.ackedCounter - acked) : 0
            let moved = newlyAcked > 0 || (head.pulls && response.cursor > furthestCursor)
            if head.pulls { furthestCursor = max(furthestCursor, response.cursor) }
            idleAnswers = moved ? 0 : idleAnswers + 1
            // Only changes sent in this sync count (an earlier sync's may be acknowledged too).
            report.sent += min(newlyAcked, sentThrough > acked ? Int(sentThrough - acked) : 0)
            acked = max(acked, response.ackedCounter)
            // Whether a request still in flight carries the next change the server lacks.
            let gapInFlight = queue.contains { $0.carries(acked + 1) }
            if let last = head.lastCounter, acked < last, !gapInFlight {
                // The server does not hold all it was sent: send again from what it holds.
                sentThrough = acked
                ahead = nil
            } else {
                sentThrough = max(sentThrough, acked)
            }
            if head.pulls {
                cursor = response.cursor
                more = response.more
            }
            // The own change counter, not `status()`: that counts whole tables, once per batch.
            let own: Int64
            do { own = try store.ownChangeCount } catch {
                await ServerSyncClient.stop(queue)
                throw error
            }
            let remaining = max(0, Int(own) - Int(acked))
            let pushedEverything = remaining == 0 || (head.lastCounter == nil && newlyAcked == 0)
            let finished = pushedEverything && !more
            // The server kept none of what it was sent next, and nothing in flight may fill the
            // gap: stop rather than loop.
            let stalled = !finished && !more && !gapInFlight && head.firstCounter == acked + 1
            // The server keeps answering without moving: the next request would repeat this one.
            let looping = !finished && idleAnswers >= ServerSyncClient.idleAnswerLimit
            var sentChanges = false
            var readFailure: (any Error)?
            if !stalled && !looping {
                do {
                    while queue.count < depth {
                        let batch: [StoredChange]
                        var start: Gzip.Part?
                        if let prepared = ahead, prepared.after == sentThrough {
                            // The answers came as expected: the batch was read and its changes
                            // compressed while they were awaited.
                            (batch, start) = (prepared.changes, prepared.compressedStart)
                        } else {
                            batch = try store.ownChanges(afterCounter: sentThrough, limit: pushLimit, maxBytes: maxBytes)
                        }
                        ahead = nil
                        // Nothing left to push: a pull alone, once nothing is in flight and more waits.
                        if batch.isEmpty && (!queue.isEmpty || finished) { break }
                        let pulls = !queue.contains { $0.pulls }
                        let limit = pulls ? catchUpLimit(afterSkipping: skippedPulls) : 0
                        queue.append(
                            send(batch, compressedStart: start, reporter: reporter, pullAfter: cursor, pullLimit: limit))
                        skippedPulls = pulls ? 0 : skippedPulls + 1
                        if let last = batch.last?.counter {
                            sentThrough = last
                            sentChanges = true
                        }
                        if batch.isEmpty { break }
                    }
                } catch {
                    readFailure = error  // thrown once this answer is saved
                }
            }
            do {
                try store.applyRemote(
                    head.pulls ? response.changes : [],
                    settings: [
                        ServerSyncClient.ackedCounterKey: Int64(acked), ServerSyncClient.pullCursorKey: cursor,
                    ])
            } catch {
                // The requests in flight are harmless (the server commits before it answers and
                // nothing here records them); stop them and wait, so no transfer outlives the sync.
                await ServerSyncClient.stop(queue)
                throw error
            }
            if head.pulls { report.received += response.changes.count }
            report.batches += 1
            progress?(
                SyncProgress(
                    sent: report.sent, received: report.received, remainingToSend: remaining, moreToReceive: more))
            if stalled || looping || readFailure != nil {
                await ServerSyncClient.stop(queue)
                if let readFailure { throw readFailure }
                if looping { throw ServerSyncNoProgress(answers: idleAnswers, cursor: furthestCursor, counter: acked) }
                throw ServerSyncStalled(counter: acked)
            }
            if sentChanges && ahead == nil { ahead = prepare(afterCounter: sentThrough, reporter: reporter) }
        }
        report.conflicts = Int(try store.status().conflicts)
        return report
    }

    /// The pull limit of a request sent after `skipped` requests that did not pull: `pullLimit`
    /// for each of them and itself (their own changes lengthen the log too), at most
    /// `ServerSyncRequest.maxPullLimit` unless `pullLimit` alone is more.
    func catchUpLimit(afterSkipping skipped: Int) -> Int {
        guard skipped > 0 else { return pullLimit }
        let (product, overflow) = pullLimit.multipliedReportingOverflow(by: 1 + skipped)
        return overflow ? pullLimit : max(pullLimit, min(product, ServerSyncRequest.maxPullLimit))
    }

    /// One exchange with the device clock read just before and after it.
    private struct TimedExchange: Sendable {
        var response: ServerSyncResponse
        var sentAt: Int64
        var receivedAt: Int64
    }

    /// A request sent and not yet answered.
    private struct InFlight {
        var task: Task<TimedExchange, any Error>
        /// The own changes it carries, first and last (nil when it carries none).
        var firstCounter: UInt64?
        var lastCounter: UInt64?
        /// Whether it asks for changes (only one request in flight does).
        var pulls: Bool

        /// Whether it carries own change `counter`.
        func carries(_ counter: UInt64) -> Bool {
            guard let firstCounter, let lastCounter else { return false }
            return firstCounter <= counter && counter <= lastCounter
        }
    }

    /// Own changes read, and their part of the request compressed, ahead of the answer they follow.
    private struct Prepared {
        /// The counter they follow (the last one sent).
        var after: UInt64
        var changes: [StoredChange]
        var compressedStart: Gzip.Part
    }

    /// The batch after own counter `last`, read and compressed while earlier batches are with the
    /// server; nil when there is none (or it cannot be made now: then it is read again once the
    /// answer is in).
    private func prepare(afterCounter last: UInt64, reporter: String) -> Prepared? {
        guard let changes = try? store.ownChanges(afterCounter: last, limit: pushLimit, maxBytes: maxBytes), !changes.isEmpty
        else { return nil }
        let request = request(changes, reporter: reporter, pullAfter: 0, pullLimit: pullLimit)
        guard let start = try? Gzip.part(request.encodedStart()) else { return nil }
        return Prepared(after: last, changes: changes, compressedStart: start)
    }

    /// The request carrying `outgoing` (stored bytes as they are) and a pull of at most
    /// `pullLimit` changes after `pullAfter`.
    private func request(_ outgoing: [StoredChange], reporter: String, pullAfter: Int64, pullLimit: Int) -> ServerSyncRequest {
        ServerSyncRequest(
            replica: store.replica, reporter: reporter, changes: [], rawChanges: outgoing.map(\.body), pullAfter: pullAfter,
            pullLimit: pullLimit, pullMaxBytes: maxBytes)
    }

    /// Starts one exchange: `outgoing` up (with its part already compressed, when given), a pull
    /// of at most `pullLimit` changes after `pullAfter` down (none when it is 0).
    private func send(
        _ outgoing: [StoredChange], compressedStart: Gzip.Part?, reporter: String, pullAfter: Int64, pullLimit: Int
    ) -> InFlight {
        var request = request(outgoing, reporter: reporter, pullAfter: pullAfter, pullLimit: pullLimit)
        request.compressedStart = compressedStart
        let message = request
        let link = self.link
        let clock = self.deviceClock
        let task = Task {
            let sentAt = clock()
            let response = try await link.exchange(message)
            return TimedExchange(response: response, sentAt: sentAt, receivedAt: clock())
        }
        return InFlight(
            task: task, firstCounter: outgoing.first?.counter, lastCounter: outgoing.last?.counter, pulls: pullLimit > 0)
    }

    /// The exchange's outcome; cancelling the waiting task cancels the exchange.
    private static func wait(for exchange: Task<TimedExchange, any Error>) async throws -> TimedExchange {
        try await withTaskCancellationHandler {
            try await exchange.value
        } onCancel: {
            exchange.cancel()
        }
    }

    /// Cancels the requests still in flight and waits for them, so no transfer outlives the sync.
    private static func stop(_ queue: [InFlight]) async {
        for item in queue { item.task.cancel() }
        for item in queue { _ = try? await item.task.value }
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

/// The server answered `ServerSyncClient.idleAnswerLimit` times in a row without acknowledging
/// anything new or moving the pull position (while saying more was waiting), so the sync stopped
/// instead of asking the same thing forever.
public struct ServerSyncNoProgress: Error, Hashable, Sendable, CustomStringConvertible {
    /// The answers in a row that moved nothing.
    public var answers: Int
    /// The furthest pull position the server gave.
    public var cursor: Int64
    /// The acknowledged own counter.
    public var counter: UInt64

    public var description: String {
        "the server made no progress: \(answers) answers in a row acknowledged nothing new and left the pull "
            + "position at \(cursor) while saying more was waiting; the sync stopped instead of looping. Nothing "
            + "was lost (acknowledged up to #\(counter)); try again later, and tell the server's operator if it persists"
    }
}
