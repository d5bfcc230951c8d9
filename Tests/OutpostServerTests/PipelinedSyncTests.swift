import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// A link that passes `allowed` exchanges through and then fails every later one; with
/// `deliverThenFail`, the failing exchange reaches the server first (its answer is what is lost).
final class FailingLink: ServerLink, @unchecked Sendable {
    // @unchecked Sendable: the counter is only touched while holding `lock`.
    let inner: RouterLink
    let allowed: Int
    let deliverThenFail: Bool
    private let lock = NSLock()
    private var count = 0

    init(inner: RouterLink, allowed: Int, deliverThenFail: Bool) {
        self.inner = inner
        self.allowed = allowed
        self.deliverThenFail = deliverThenFail
    }

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        let n = next()
        if n <= allowed { return try await inner.exchange(request) }
        if deliverThenFail { _ = try await inner.exchange(request) }
        throw LinkError(status: 0, body: "link dropped on purpose")
    }

    private func next() -> Int {
        lock.withLock {
            count += 1
            return count
        }
    }
}

/// A link whose first answer acknowledges one change less than the server holds.
struct ShortAckLink: ServerLink {
    let inner: RouterLink
    let first = FirstFlag()

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        var response = try await inner.exchange(request)
        if first.take(), response.ackedCounter > 0 { response.ackedCounter -= 1 }
        return response
    }
}

/// True the first time it is asked, then false.
final class FirstFlag: @unchecked Sendable {
    // @unchecked Sendable: `used` is only touched while holding `lock`.
    private let lock = NSLock()
    private var used = false

    func take() -> Bool {
        lock.withLock {
            defer { used = true }
            return !used
        }
    }
}

@Suite struct PipelinedSyncTests {
    /// When an answer acknowledges less than was sent, the batch made ahead is dropped and the
    /// next one starts after what was acknowledged: nothing is skipped.
    @Test func aShortAcknowledgementIsNotSkippedPast() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        for i in 0..<30 { try alice.create(fields: ["title": .string("A \(i)")]) }
        try await fixture.test { client in
            let link = ShortAckLink(inner: RouterLink(client: client, token: token))
            let report = try await ServerSyncClient(store: alice, link: link, pushLimit: 4).run()
            #expect(report.sent == 30)
        }
        #expect(try alice.integerSetting(ServerSyncClient.ackedCounterKey) == 30)
        #expect(try fixture.store.contiguousCounter(of: alice.replica) == 30)
        #expect(try fixture.store.lastSeq() == 30)
    }

    /// The stored bytes the client sends are the bytes the change encoder makes, so a request made
    /// of raw bodies is byte for byte the request made of parsed changes, and decodes to them.
    @Test func rawChangeBodiesMakeTheSameRequest() throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        var changes: [Change] = []
        for i in 0..<5 {
            changes.append(
                try alice.create(fields: [
                    "title": .string("Raw \(i) \"quoted\" \\ ⵜⵉⵏⴱⵓⴽⵜⵓ"), "narrative": .string("line\nbreak\t\(i)"),
                    "lat": .double(12.5 + Double(i)), "killed": .int(Int64(i)),
                ]))
        }
        let id = changes[0].record.id
        changes.append(try alice.update(id: id, fields: ["title": "Edited", "place_name": .null]))
        changes.append(try alice.delete(id: id))
        let stored = try alice.ownChanges(afterCounter: 0, limit: 100)
        #expect(stored.count == changes.count)
        let parsed = ServerSyncRequest(replica: alice.replica, reporter: "alice", changes: changes, pullAfter: 4)
        let raw = ServerSyncRequest(
            replica: alice.replica, reporter: "alice", changes: [], rawChanges: stored.map(\.body), pullAfter: 4)
        let mixed = ServerSyncRequest(
            replica: alice.replica, reporter: "alice", changes: Array(changes.prefix(2)),
            rawChanges: stored.dropFirst(2).map(\.body), pullAfter: 4)
        #expect(raw.changeCount == changes.count && mixed.changeCount == changes.count)
        #expect(raw.encoded() == parsed.encoded())
        #expect(mixed.encoded() == parsed.encoded())
        let decoded = try ServerSyncRequest.decode(try JSONParser.parse(raw.encoded()))
        #expect(decoded.changes == changes)
        #expect(decoded.rawChanges.isEmpty)
        #expect(decoded.pullAfter == 4)
        // Compressed ahead (the changes part) and finished later, it is the same request.
        var ahead = raw
        ahead.compressedStart = try Gzip.part(raw.encodedStart())
        #expect(try Gzip.decompress(try ahead.gzipped(), maxOutput: 1 << 22) == parsed.encoded())
        #expect(try Gzip.decompress(try raw.gzipped(), maxOutput: 1 << 22) == parsed.encoded())
        #expect(raw.encodedStart() + raw.encodedEnd() == raw.encoded())
        // No changes at all is still a well-formed request.
        let empty = ServerSyncRequest(replica: alice.replica, reporter: nil, changes: [], rawChanges: [], pullAfter: 0)
        #expect(try ServerSyncRequest.decode(try JSONParser.parse(empty.encoded())).changes.isEmpty)
    }

    /// A batch of raw bodies with one damaged body gets a 4xx and stores nothing of the batch.
    @Test func aDamagedRawBodyRefusesTheWholeBatch() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        for i in 0..<4 { try alice.create(fields: ["title": .string("Kept \(i)")]) }
        let bodies = try alice.ownChanges(afterCounter: 0).map(\.body)
        var damaged = bodies
        damaged[2] = Array(damaged[2].dropLast(3))
        var emptied = bodies
        emptied[3] = Array(String(decoding: emptied[3], as: UTF8.self).replacingOccurrences(of: "Kept 3", with: "").utf8)
        let truncated = damaged
        let invalid = emptied
        try await fixture.test { client in
            for (name, raw, status) in [
                ("truncated body", truncated, HTTPResponse.Status.badRequest),
                ("empty title", invalid, HTTPResponse.Status.unprocessableContent),
            ] {
                let request = ServerSyncRequest(
                    replica: alice.replica, reporter: "alice", changes: [], rawChanges: raw, pullAfter: 0)
                let body = try Gzip.compress(request.encoded(), level: Gzip.syncLevel)
                let r = try await postSync(client, token: token, body: body, headers: [.contentEncoding: "gzip"])
                #expect(r.status == status, "\(name): \(errorMessage(r))")
                #expect(!errorMessage(r).isEmpty, "\(name)")
                #expect(try fixture.store.lastSeq() == 0, "\(name) stored something")
            }
        }
        #expect(try fixture.store.incidents().isEmpty)
    }

    /// Many small batches each way with one batch always in flight: everything arrives once.
    @Test func pipelinedBatchesDeliverEverythingOnce() async throws {
        let fixture = try ServerFixture()
        let (alice, bob) = try seedTwoReporters(fixture)
        let aliceToken = try fixture.token("alice", for: alice)
        let bobToken = try fixture.token("bob", for: bob)
        try await fixture.test { client in
            let a = ServerSyncClient(
                store: alice, link: RouterLink(client: client, token: aliceToken), pushLimit: 3, pullLimit: 4)
            let b = ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken), pushLimit: 4, pullLimit: 3)
            let r1 = try await a.run()
            #expect(r1.sent == 50 && r1.received == 0)
            let r2 = try await b.run()
            #expect(r2.sent == 23 && r2.received == 50)
            let r3 = try await a.run()
            #expect(r3.sent == 0 && r3.received == 23)
            let r4 = try await b.run()
            #expect(r4.sent == 0 && r4.received == 0 && r4.batches == 1)
        }
        try expectTwoReportersConverged(fixture, alice: alice, bob: bob)
    }

    /// A link that drops mid-sync (before or after the server committed the batch in flight)
    /// loses nothing: positions saved are those of applied answers, and the next sync resumes.
    @Test func aDroppedLinkMidPipelineLosesNothing() async throws {
        for deliverThenFail in [false, true] {
            let fixture = try ServerFixture()
            let alice = try fixture.replica("alice")
            let aliceToken = try fixture.token("alice", for: alice)
            let bob = try fixture.replica("bob")
            let bobToken = try fixture.token("bob", for: bob)
            for i in 0..<30 { try alice.create(fields: ["title": .string("A \(i)")]) }
            try await fixture.test { client in
                let flaky = FailingLink(
                    // The first exchange (roster, summary, pull) pushes nothing; then 4 batches.
                    inner: RouterLink(client: client, token: aliceToken), allowed: 5, deliverThenFail: deliverThenFail)
                await #expect(throws: LinkError.self) {
                    _ = try await ServerSyncClient(store: alice, link: flaky, pushLimit: 4).run()
                }
                // Only answers that were applied count: at most the 4 exchanged batches.
                let acked = try alice.integerSetting(ServerSyncClient.ackedCounterKey)
                #expect(acked == 16)
                #expect(try fixture.store.contiguousCounter(of: alice.replica) == (deliverThenFail ? 20 : 16))
                let resumed = try await ServerSyncClient(
                    store: alice, link: RouterLink(client: client, token: aliceToken), pushLimit: 4
                ).run()
                // What the server committed unacknowledged is acknowledged by the first answer, not sent again.
                #expect(resumed.sent == (deliverThenFail ? 10 : 14))
                let flakyPull = FailingLink(
                    inner: RouterLink(client: client, token: bobToken), allowed: 2, deliverThenFail: deliverThenFail)
                await #expect(throws: LinkError.self) {
                    _ = try await ServerSyncClient(store: bob, link: flakyPull, pullLimit: 5).run()
                }
                #expect(try bob.incidents().count == 10)
                let pulled = try await ServerSyncClient(
                    store: bob, link: RouterLink(client: client, token: bobToken), pullLimit: 5
                ).run()
                #expect(pulled.received == 20)
            }
            #expect(try fixture.store.contiguousCounter(of: alice.replica) == 30)
            #expect(try fixture.store.lastSeq() == 30)
            #expect(try bob.incidents().count == 30)
        }
    }
}
