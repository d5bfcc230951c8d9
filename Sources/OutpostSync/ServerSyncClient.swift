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
    /// Changes of other authors sent on to the server (relayed) because its summary lacked them.
    public var relayed = 0
    /// Received changes left out because they failed verification, and unverified changes
    /// dropped when a roster named their author and their signature failed.
    public var refused: [RefusedChange] = []
    /// The replica ID this device wrote under until the sync showed its store was restored from an
    /// older copy; it now writes under a new one (`store.replica`).
    public var restoredFrom: ReplicaID?
    /// Sealed parcels handed to the server (and dropped here); those it did not take, still
    /// carried; why each was not taken.
    public var parcelsForwarded = 0
    public var parcelsKept = 0
    public var parcelWarnings: [String] = []

    /// An empty report.
    public init() {}
}

/// Syncs a reporter's store with the server over a `ServerLink`, batch by batch.
///
/// Position is kept in the store: `server_acked_counter` (own changes the server holds) and
/// `server_pull_cursor` (server log position received), each saved in the same transaction as
/// the batch it belongs to, so a failed or killed sync loses nothing and the next one resumes.
///
/// Trust (`trust.md`): every request carries the device's public key and its binding to the
/// link's token; answers bring the server's roster (its key pinned at the first sync) and, for the
/// first request, the server's summary. With the summary the device re-sends own changes a
/// restored server lost, continues under a new replica when the server holds own changes this
/// store lacks (the store was restored), and relays the verified changes of other authors the
/// server lacks. Each pull names the change its position points at, so a restored server can
/// answer `cursor_reset` and the device pulls again from the start.
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
    /// The token the link sends: every request carries the device's key signed over its hash
    /// (`bind`), so the server binds the token to this device at its first sync (and to a new
    /// replica after a restore). nil: neither goes (a token enrolled by key is bound already).
    public var token: String?

    /// Setting holding the highest own counter the server acknowledged.
    public static let ackedCounterKey = Store.serverAckedCounterSetting
    /// Setting holding the server log position received.
    public static let pullCursorKey = "server_pull_cursor"
    /// Setting holding the change the pull position points at (`hex:counter`, as the server named it).
    public static let pullCursorDotKey = "server_pull_cursor_dot"
    /// Setting holding the highest roster version received from the server (the next `roster_after`).
    public static let rosterAfterKey = "server_roster_after"
    /// Syncs in a row one `run` makes when each finds the store restored and continues under a new replica.
    static let maxPasses = 3
    /// Answers in a row that may move nothing (no new acknowledgement, no pull position past the
    /// furthest one seen) before the sync stops with `ServerSyncNoProgress`.
    public static let idleAnswerLimit = 3

    /// Makes a client.
    public init(
        store: Store, link: any ServerLink, token: String? = nil, pushLimit: Int = 5000, pullLimit: Int = 5000,
        maxBytes: Int = 4 << 20
    ) {
        self.store = store
        self.link = link
        self.token = token
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
    /// with the answer it belongs to, the acknowledgement only grows (unless the server's summary
    /// shows it lost acknowledged changes: they are sent again), and the server commits
    /// each batch before it answers, so a failure or a kill at any point loses nothing and
    /// duplicates nothing: the next sync resends from what was acknowledged.
    public func run(progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> ServerSyncReport {
        var report = ServerSyncReport()
        for _ in 0..<ServerSyncClient.maxPasses {
            // A pass that finds the store restored stops; the next one runs under the new replica.
            guard try await runPass(into: &report, progress: progress) else { break }
        }
        // Acknowledged now: own edits of records this device may no longer read, and stale copies
        // peers handed over, go (`ServerSyncClient+Access`).
        try forgetUnreadableLeftovers()
        (report.parcelsForwarded, report.parcelsKept, report.parcelWarnings) = try await forwardParcels()
        report.conflicts = Int(try store.status().conflicts)
        return report
    }

    /// One sync under the store's current replica; true when it stopped because the store turned
    /// out to be restored and now writes under a new replica (the caller syncs again).
    private func runPass(
        into report: inout ServerSyncReport, progress: (@Sendable (SyncProgress) -> Void)?
    ) async throws -> Bool {
        let reporter = try store.reporter
        let binding = store.binding(forToken: token ?? "")
        var context = RequestContext(
            replica: binding.replica, key: binding.key, bind: token == nil ? [] : binding.bind, reporter: reporter,
            rosterAfter: UInt64(max(0, try store.integerSetting(ServerSyncClient.rosterAfterKey))), wantsSummary: true,
            cursorDot: try storedCursorDot(), pinnedRosterKey: try store.rosterKey())
        context.accessAfter = try storedAccessAfter()
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
        // The opening request pushes nothing: it asks for the server's summary (and pulls), so no
        // change goes up before the device knows whether it was restored (its next dots would then
        // reuse dots the server holds) or the server was (its acknowledgement is then too high).
        // The first batch is read and compressed while it is with the server.
        var opening = try send([], compressedStart: nil, context: context, pullAfter: cursor, pullLimit: pullLimit)
        opening.opens = true
        queue.append(opening)
        context.wantsSummary = false
        var ahead = prepare(afterCounter: acked, context: context)
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
                // Nothing else is in flight. The roster first (pinning the server's key): the
                // changes of authors it newly names verify, and can be relayed.
                try acceptRoster(response, context: &context, report: &report)
                if let summary = response.summary {
                    let held = summary.entries[context.replica]
                    // The server holds changes of this replica that this store never sent: it is
                    // an older copy of itself, whose next dots were (or would be) used twice.
                    // It continues under a new replica (re-issuing there what never left it);
                    // the next pass sends the old replica's work and pulls the server's.
                    if let old = try store.continueIfPartnerHoldsUnsent(summary) {
                        report.restoredFrom = report.restoredFrom ?? old
                        return true
                    }
                    // A server restored from an older copy lost own changes it had acknowledged:
                    // send them again from what it holds.
                    let serverHolds = held?.contiguous ?? 0
                    if serverHolds < acked {
                        acked = serverHolds
                        sentThrough = acked
                        ahead = nil
                    }
                    // Other authors' work the server lacks goes first, so own changes that build
                    // on it are not held back there.
                    try await relay(missingFrom: summary, context: &context, report: &report)
                }
            } else {
                do { try acceptRoster(response, context: &context, report: &report) } catch {
                    await ServerSyncClient.stop(queue)
                    throw error
                }
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
                context.cursorDot = response.cursorDot
                context.accessAfter = ServerSyncClient.accessAfter(following: response, current: context.accessAfter)
                if response.cursorReset {
                    // The server's log does not hold the change our position named (it was
                    // restored): pull again from where it says, and ask on if it sent nothing.
                    furthestCursor = response.cursor
                    idleAnswers = 0
                    if response.changes.isEmpty && response.cursor == 0 { more = true }
                }
            }
            // The own change counter, not `status()`: that counts whole tables, once per batch.
            let own: Int64
            do { own = try store.ownChangeCount } catch {
                await ServerSyncClient.stop(queue)
                throw error
            }
            let remaining = max(0, Int(own) - Int(acked))
            let pushedEverything = remaining == 0 || (!head.opens && head.lastCounter == nil && newlyAcked == 0)
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
                            try send(batch, compressedStart: start, context: context, pullAfter: cursor, pullLimit: limit))
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
            let applied: ApplyReport
            do {
                if head.pulls {
                    // The acknowledgement first: own changes this answer acknowledged are then no
                    // longer work only this device holds when a notice forgets their record.
                    try store.setIntegerSetting(ServerSyncClient.ackedCounterKey, Int64(acked))
                    try applyAccess(of: response)
                }
                applied = try store.applyRemote(
                    head.pulls ? response.changes : [],
                    settings: [
                        ServerSyncClient.ackedCounterKey: Int64(acked), ServerSyncClient.pullCursorKey: cursor,
                        ServerSyncClient.accessAfterKey: context.accessAfter,
                    ])
                if head.pulls { try saveCursorDot(context.cursorDot) }
            } catch {
                // The requests in flight are harmless (the server commits before it answers and
                // nothing here records them); stop them and wait, so no transfer outlives the sync.
                await ServerSyncClient.stop(queue)
                throw error
            }
            report.refused += applied.refused
            if let restored = applied.restoredFrom {
                // A change of this replica from beyond its counter: the store was restored from an
                // older copy and now writes under a new replica; the requests in flight speak for the old one.
                await ServerSyncClient.stop(queue)
                report.restoredFrom = report.restoredFrom ?? restored
                if head.pulls { report.received += response.changes.count }
                report.batches += 1
                return true
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
            if sentChanges && ahead == nil { ahead = prepare(afterCounter: sentThrough, context: context) }
        }
        // After a restore, the old replica's work goes once everything is pulled: by then this store
        // met the server's version of every dot it reused and settled it (re-issuing a discarded
        // version under the new replica), so the server settles each the same way and no write of
        // either version is lost.
        if let old = report.restoredFrom, old != context.replica {
            try await sendWork(of: old, context: &context, report: &report)
        }
        return false
    }

    /// Sends the server, one request at a time and before own changes, the verified changes of
    /// other authors that its summary lacks (work that reached this device through a peer or a bundle, or that a restored
    /// server lost). Never unverified ones: the server would refuse them.
    private func relay(
        missingFrom summary: SyncSummary, context: inout RequestContext, report: inout ServerSyncReport
    ) async throws {
        // Mostly the server lacks nothing of other authors: then the log is not read at all.
        guard ServerSyncClient.holdsMore(try store.summary(), than: summary, except: context.replica) else { return }
        var position: Int64 = 0
        while true {
            let (batch, next) = try store.relayChanges(
                missingFrom: summary, excluding: context.replica, afterSeq: position, limit: pushLimit, maxBytes: maxBytes)
            if batch.isEmpty { break }
            let exchange = try await ServerSyncClient.wait(
                for: try send(batch, compressedStart: nil, context: context, pullAfter: 0, pullLimit: 0).task)
            try acceptRoster(exchange.response, context: &context, report: &report)
            report.relayed += batch.count
            report.batches += 1
            position = next
        }
    }

    /// After finding the store restored, sends the server the old replica's whole work (its own
    /// path now carries the new replica's): where the server holds another version of a dot the
    /// restored copy reused, it meets both and settles them (`trust.md`, "Restored stores").
    private func sendWork(of old: ReplicaID, context: inout RequestContext, report: inout ServerSyncReport) async throws {
        // Only when the server knows the old replica (it refuses a batch with an unknown author).
        guard try store.roster().contains(where: { $0.replica == old && $0.sig != nil && $0.status == .active }) else { return }
        var position: Int64 = 0
        while true {
            let (batch, next) = try store.changes(by: old, afterSeq: position, limit: pushLimit, maxBytes: maxBytes)
            if batch.isEmpty { break }
            let exchange = try await ServerSyncClient.wait(
                for: try send(batch, compressedStart: nil, context: context, pullAfter: 0, pullLimit: 0).task)
            try acceptRoster(exchange.response, context: &context, report: &report)
            report.batches += 1
            position = next
        }
    }

    /// Takes the roster an answer carries: pins the server's roster key at the first sync (a
    /// different key than the pinned one fails the sync: another server, or an impostor) and keeps
    /// the entries it signed; raises the roster version asked for next.
    private func acceptRoster(
        _ response: ServerSyncResponse, context: inout RequestContext, report: inout ServerSyncReport
    ) throws {
        guard let rosterKey = response.rosterKey else { return }
        // Most answers bring no entries from the key already pinned: nothing to write.
        if response.roster.isEmpty && context.pinnedRosterKey == rosterKey { return try acceptParcelKey(response) }
        let update = try store.acceptRoster(response.roster, rosterKey: rosterKey)
        context.pinnedRosterKey = rosterKey
        report.refused += update.dropped
        let newest = response.roster.map(\.version).max() ?? 0
        if newest > context.rosterAfter {
            context.rosterAfter = newest
            try store.setIntegerSetting(ServerSyncClient.rosterAfterKey, Int64(clamping: newest))
        }
        try acceptParcelKey(response)
    }

    /// Whether `mine` holds a change of an author other than `except` that `theirs` lacks.
    static func holdsMore(_ mine: SyncSummary, than theirs: SyncSummary, except: ReplicaID) -> Bool {
        for (replica, entry) in mine.entries where replica != except {
            let other = theirs.entries[replica] ?? SyncSummary.Entry(contiguous: 0)
            if entry.extra.contains(where: { !theirs.contains(Dot(replica: replica, counter: $0)) }) { return true }
            guard entry.contiguous > other.contiguous else { continue }
            // Counters other.contiguous+1 … entry.contiguous must all be among their extras.
            let missing = entry.contiguous - other.contiguous
            if UInt64(other.extra.count) < missing { return true }
            if other.extra.filter({ $0 > other.contiguous && $0 <= entry.contiguous }).count < missing { return true }
        }
        return false
    }

    /// The stored change the pull position points at.
    private func storedCursorDot() throws -> Dot? {
        guard let text = try store.setting(ServerSyncClient.pullCursorDotKey) else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let replica = ReplicaID(hex: String(parts[0])), let counter = UInt64(parts[1]) else { return nil }
        return Dot(replica: replica, counter: counter)
    }

    /// Saves the change the pull position points at (removes it when the server named none).
    private func saveCursorDot(_ dot: Dot?) throws {
        try store.setSettings([ServerSyncClient.pullCursorDotKey: dot.map(\.description)])
    }

    /// What every request of a sync pass says besides its changes and pull.
    private struct RequestContext: Sendable {
        var replica: ReplicaID
        var key: [UInt8]
        var bind: [UInt8]
        var reporter: String
        var rosterAfter: UInt64
        var wantsSummary: Bool
        var cursorDot: Dot?
        /// The server roster key the store has pinned (nil until the first sync).
        var pinnedRosterKey: [UInt8]?
        /// The access position notices were taken up to (`ServerSyncClient+Access`).
        var accessAfter: Int64 = 0
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
        /// Whether it is a sync's opening request (it asks for the server's summary and pushes nothing).
        var opens = false

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
    private func prepare(afterCounter last: UInt64, context: RequestContext) -> Prepared? {
        guard let changes = try? store.ownChanges(afterCounter: last, limit: pushLimit, maxBytes: maxBytes), !changes.isEmpty
        else { return nil }
        let request = request(changes, context: context, pullAfter: 0, pullLimit: pullLimit)
        guard let start = try? Gzip.part(request.encodedStart()) else { return nil }
        return Prepared(after: last, changes: changes, compressedStart: start)
    }

    /// The request carrying `outgoing` (stored bytes as they are) and a pull of at most
    /// `pullLimit` changes after `pullAfter`.
    private func request(_ outgoing: [StoredChange], context: RequestContext, pullAfter: Int64, pullLimit: Int)
        -> ServerSyncRequest
    {
        var request = ServerSyncRequest(
            replica: context.replica, reporter: context.reporter, changes: [], rawChanges: outgoing.map(\.body),
            pullAfter: pullAfter, pullLimit: pullLimit, pullMaxBytes: maxBytes)
        // The key goes with its binding, or not at all (a server checks the two together).
        if !context.bind.isEmpty {
            request.key = context.key
            request.bind = context.bind
        }
        request.rosterAfter = context.rosterAfter
        request.wantsSummary = context.wantsSummary
        if pullLimit > 0 && pullAfter > 0 { request.pullAfterDot = context.cursorDot }
        if pullLimit > 0 { request.accessAfter = context.accessAfter }
        return request
    }

    /// Starts one exchange: `outgoing` up (with its part already compressed, when given), a pull
    /// of at most `pullLimit` changes after `pullAfter` down (none when it is 0).
    private func send(
        _ outgoing: [StoredChange], compressedStart: Gzip.Part?, context: RequestContext, pullAfter: Int64, pullLimit: Int
    ) throws -> InFlight {
        // Recorded before it goes: whatever the server holds of this replica up to here, this store sent.
        try store.recordOwnSent(through: outgoing.filter { $0.replica == context.replica }.map(\.counter).max() ?? 0)
        var request = request(outgoing, context: context, pullAfter: pullAfter, pullLimit: pullLimit)
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
