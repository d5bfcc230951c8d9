import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// Pulls the whole log as `replica` with `token`; returns the changes received.
private func pullAll(_ client: any TestClientProtocol, token: String, replica: ReplicaID) async throws -> [Change] {
    let request = ServerSyncRequest(replica: replica, reporter: "bob", changes: [], pullAfter: 0, pullLimit: 5000)
    let response = try await postSync(client, token: token, body: request.encoded())
    #expect(response.status == .ok)
    return try ServerSyncResponse.decode(try responseJSON(response)).changes
}

@Suite struct HeldBackAndReusedDotTests {
    @Test func aReusedDotKeepsTheVersionWithTheLowerHashOnlyAndNeverBoth() async throws {
        let fixture = try ServerFixture()
        let device = try fixture.device("mallory")
        let (token, mallory) = (device.token, device.replica)
        let reader = try fixture.device("bob")
        let (bobToken, bob) = (reader.token, reader.replica)
        // Two validly signed changes under one dot (`trust.md`: keep the lower SHA-256 of the
        // canonical bytes, report the other, never apply both).
        let x = device.change(1, id: "X", writes: ["title": "X"])
        let y = device.change(1, id: "Y", writes: ["title": "Y"])
        let z = device.change(2, id: "Z", writes: ["title": "Z"])
        let hash = { (c: Change) in Array(SHA256.hash(data: c.canonicalBytes())) }
        let kept = hash(x).lexicographicallyPrecedes(hash(y)) ? x : y
        try await fixture.test { client in
            let first = try await postSync(
                client, token: token,
                body: ServerSyncRequest(replica: mallory, reporter: "mallory", changes: [x], pullAfter: 0).encoded())
            #expect(first.status == .ok)
            let second = try await postSync(
                client, token: token,
                body: ServerSyncRequest(replica: mallory, reporter: "mallory", changes: [z, y], pullAfter: 0).encoded())
            #expect(second.status == .ok)
            // An exact duplicate is still fine.
            let again = try await postSync(
                client, token: token,
                body: ServerSyncRequest(replica: mallory, reporter: "mallory", changes: [kept], pullAfter: 0).encoded())
            #expect(again.status == .ok)
            #expect(try ServerSyncResponse.decode(try responseJSON(again)).duplicates == 1)
            let pulled = try await pullAll(client, token: bobToken, replica: bob)
            #expect(Set(pulled.map(\.record.id)) == [kept.record.id, "Z"])
        }
        let discarded = kept == x ? y : x
        #expect(try fixture.store.incident(id: discarded.record.id) == nil)
        #expect(try fixture.store.incident(id: kept.record.id) != nil)
        #expect(try fixture.store.history(id: kept.record.id).map(\.change.dot) == [kept.dot])
    }

    @Test func heldChangesPastTheBoundAreRefusedAndNeverRelayed() async throws {
        let fixture = try ServerFixture()
        let device = try fixture.device("mallory")
        let (token, mallory) = (device.token, device.replica)
        let reader = try fixture.device("bob")
        let (bobToken, bob) = (reader.token, reader.replica)
        let ghost = ReplicaID.random()
        let limit = HeldBackLimits.standard.changesPerAuthor
        // The default bound exactly, in batches of the server's largest size: each waits for a
        // ghost's change that never comes.
        let poison = (1...limit).map { i in
            device.change(UInt64(i), id: "P\(i % 7)", deps: [ghost: 1], writes: ["killed": .int(Int64(i))])
        }
        try await fixture.test { client in
            for start in stride(from: 0, to: limit, by: ServerSyncRequest.maxChanges) {
                let batch = Array(poison[start..<min(start + ServerSyncRequest.maxChanges, limit)])
                let response = try await postSync(
                    client, token: token,
                    body: ServerSyncRequest(replica: mallory, reporter: "mallory", changes: batch, pullAfter: 0).encoded())
                #expect(response.status == .ok)
            }
            let before = try fixture.store.lastSeq()
            let past = try await postSync(
                client, token: token,
                body: ServerSyncRequest(
                    replica: mallory, reporter: "mallory",
                    changes: [
                        device.change(UInt64(limit + 1), id: "fine", writes: ["title": "Fine"]),
                        device.change(UInt64(limit + 2), id: "P1", deps: [ghost: 1], writes: ["killed": 1]),
                    ], pullAfter: 0
                ).encoded())
            #expect(past.status == .unprocessableContent)
            #expect(errorCode(past) == "too_many_held_back")
            #expect(errorMessage(past).contains("held back"))
            #expect(try fixture.store.lastSeq() == before)
            // Held changes are not relayed to other devices.
            #expect(try await pullAll(client, token: bobToken, replica: bob).isEmpty)
        }
        #expect(try fixture.store.incident(id: "fine") == nil)
        #expect(try fixture.store.status().heldBackChanges == Int64(limit))
    }
}
