import Foundation
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// A link that carries two exchanges at once (as `CurlServerLink` does) over another link, and
/// records how many ran together and the pull limit of each request.
final class TwoLaneLink: ServerLink, @unchecked Sendable {
    // @unchecked Sendable: the counters are only touched while holding `lock`.
    let inner: any ServerLink
    private let lock = NSLock()
    private var running = 0
    private var most = 0
    private var limits: [Int] = []

    init(_ inner: any ServerLink) { self.inner = inner }

    var maxInFlight: Int { 2 }

    /// The most exchanges that ran at the same time.
    var mostAtOnce: Int { lock.withLock { most } }
    /// Each request's pull limit, in the order they were sent.
    var pullLimits: [Int] { lock.withLock { limits } }

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        lock.withLock {
            running += 1
            most = max(most, running)
            limits.append(request.pullLimit)
        }
        defer { lock.withLock { running -= 1 } }
        return try await inner.exchange(request)
    }
}

/// A link that loses the last change of the second request on the way (the server answers
/// for what it got), as a faulty proxy might.
struct LossyLink: ServerLink {
    let inner: RouterLink
    let counter = RequestCounter()

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        var request = request
        if counter.next() == 2, !request.rawChanges.isEmpty {
            request.rawChanges.removeLast()
            request.compressedStart = nil
        }
        return try await inner.exchange(request)
    }
}

/// Counts requests: 1 for the first.
final class RequestCounter: @unchecked Sendable {
    // @unchecked Sendable: `count` is only touched while holding `lock`.
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.withLock {
            count += 1
            return count
        }
    }
}

@Suite struct TwoInFlightSyncTests {
    /// Two batches in flight each way, edits that depend on earlier batches, pulls alongside:
    /// everything arrives once and the positions end where they should.
    @Test func twoBatchesInFlightDeliverEverythingOnce() async throws {
        let fixture = try ServerFixture()
        let (alice, bob) = try seedTwoReporters(fixture)
        let aliceToken = try fixture.token("alice", for: alice)
        let bobToken = try fixture.token("bob", for: bob)
        try await fixture.test { client in
            let aliceLink = TwoLaneLink(RouterLink(client: client, token: aliceToken))
            let bobLink = TwoLaneLink(RouterLink(client: client, token: bobToken))
            let a = ServerSyncClient(store: alice, link: aliceLink, pushLimit: 3, pullLimit: 4)
            let b = ServerSyncClient(store: bob, link: bobLink, pushLimit: 4, pullLimit: 3)
            let r1 = try await a.run()
            #expect(r1.sent == 50 && r1.received == 0)
            #expect(aliceLink.mostAtOnce == 2)
            let r2 = try await b.run()
            #expect(r2.sent == 23 && r2.received == 50)
            // Only one request in flight pulls; one sent after one that did not asks for both.
            #expect(bobLink.pullLimits.contains(0) && bobLink.pullLimits.contains(6))
            #expect(Set(bobLink.pullLimits).isSubset(of: [0, 3, 6]))
            let r3 = try await a.run()
            #expect(r3.sent == 0 && r3.received == 23)
            let r4 = try await b.run()
            #expect(r4.sent == 0 && r4.received == 0 && r4.batches == 1)
        }
        try expectTwoReportersConverged(fixture, alice: alice, bob: bob)
        #expect(try fixture.store.lastSeq() == 73)
        #expect(try alice.integerSetting(ServerSyncClient.pullCursorKey) == (try fixture.store.lastSeq()))
    }

    /// A link that drops with two batches in flight (before or after the server committed them)
    /// loses nothing and stores nothing twice: the position saved is that of applied answers, and
    /// the next sync resends from it.
    @Test func aDroppedLinkWithTwoInFlightLosesNothing() async throws {
        for deliverThenFail in [false, true] {
            let fixture = try ServerFixture()
            let alice = try fixture.replica("alice")
            let aliceToken = try fixture.token("alice", for: alice)
            var ids: [String] = []
            for i in 0..<30 { ids.append(try alice.create(fields: ["title": .string("A \(i)")]).record.id) }
            for i in 0..<6 { _ = try alice.update(id: ids[i], fields: ["killed": .int(Int64(i))]) }
            try await fixture.test { client in
                let flaky = TwoLaneLink(
                    FailingLink(
                        inner: RouterLink(client: client, token: aliceToken), allowed: 4, deliverThenFail: deliverThenFail))
                await #expect(throws: LinkError.self) {
                    _ = try await ServerSyncClient(store: alice, link: flaky, pushLimit: 4).run()
                }
                // At least the answers before the drop were applied; never more than the server holds.
                let acked = try alice.integerSetting(ServerSyncClient.ackedCounterKey)
                #expect(acked >= 12)
                #expect(try fixture.store.contiguousCounter(of: alice.replica) >= UInt64(acked))
                let resumed = try await ServerSyncClient(
                    store: alice, link: TwoLaneLink(RouterLink(client: client, token: aliceToken)), pushLimit: 4
                ).run()
                #expect(resumed.sent > 0 && resumed.sent <= 36 - Int(acked))
            }
            #expect(try alice.integerSetting(ServerSyncClient.ackedCounterKey) == 36)
            #expect(try fixture.store.contiguousCounter(of: alice.replica) == 36)
            #expect(try fixture.store.lastSeq() == 36)
            #expect(Set(try alice.incidents().map(\.fields)) == Set(try fixture.store.incidents().map(\.fields)))
        }
    }

    /// Alice's 30 new incidents pushed in batches of 4 over `makeLink` (around the router link)
    /// with two in flight: every one is sent once more if need be, acknowledged and held.
    private func pushThirty(
        over makeLink: @escaping @Sendable (RouterLink) -> any ServerLink
    ) async throws -> (fixture: ServerFixture, alice: Store, link: TwoLaneLink) {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        for i in 0..<30 { try alice.create(fields: ["title": .string("A \(i)")]) }
        let link = try await fixture.test { client in
            let link = TwoLaneLink(makeLink(RouterLink(client: client, token: token)))
            let report = try await ServerSyncClient(store: alice, link: link, pushLimit: 4).run()
            #expect(report.sent == 30)
            return link
        }
        #expect(try alice.integerSetting(ServerSyncClient.ackedCounterKey) == 30)
        #expect(try fixture.store.contiguousCounter(of: alice.replica) == 30)
        return (fixture, alice, link)
    }

    /// When the server got less of a batch than was sent (a change lost on the way) while the
    /// next batch is in flight, the client sends again from what the server holds.
    @Test func aChangeLostOnTheWayIsSentAgain() async throws {
        let (fixture, alice, link) = try await pushThirty { LossyLink(inner: $0) }
        #expect(link.mostAtOnce == 2)
        #expect(Set(try alice.incidents().map(\.fields)) == Set(try fixture.store.incidents().map(\.fields)))
    }

    /// When an answer acknowledges less than was sent, the client sends again from what was
    /// acknowledged, even with another batch in flight: nothing is skipped.
    @Test func aShortAcknowledgementWithTwoInFlightIsNotSkippedPast() async throws {
        let (fixture, _, _) = try await pushThirty { ShortAckLink(inner: $0) }
        #expect(try fixture.store.lastSeq() == 30)
    }
}
