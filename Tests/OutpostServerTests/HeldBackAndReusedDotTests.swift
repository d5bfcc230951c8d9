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
    @Test func aReusedDotIsAConflictAndOnlyTheFirstChangeIsKept() async throws {
        let fixture = try ServerFixture()
        let device = try fixture.device("mallory")
        let (token, mallory) = (device.token, device.replica)
        let reader = try fixture.device("bob")
        let (bobToken, bob) = (reader.token, reader.replica)
        // Two validly signed changes under one dot.
        let x = device.change(1, id: "X", writes: ["title": "X"])
        let y = device.change(1, id: "Y", writes: ["title": "Y"])
        try await fixture.test { client in
            let first = try await postSync(
                client, token: token,
                body: ServerSyncRequest(replica: mallory, reporter: "mallory", changes: [x], pullAfter: 0).encoded())
            #expect(first.status == .ok)
            let before = try fixture.store.lastSeq()
            let second = try await postSync(
                client, token: token,
                body: ServerSyncRequest(
                    replica: mallory, reporter: "mallory", changes: [device.change(2, id: "Z", writes: ["title": "Z"]), y],
                    pullAfter: 0
                ).encoded())
            #expect(second.status == .conflict)
            #expect(errorCode(second) == "reused_dot")
            #expect(errorMessage(second).contains("reused dot"))
            #expect(try fixture.store.lastSeq() == before)
            // An exact duplicate is still fine.
            let again = try await postSync(
                client, token: token,
                body: ServerSyncRequest(replica: mallory, reporter: "mallory", changes: [x], pullAfter: 0).encoded())
            #expect(again.status == .ok)
            #expect(try ServerSyncResponse.decode(try responseJSON(again)).duplicates == 1)
            #expect(try await pullAll(client, token: bobToken, replica: bob) == [x])
        }
        #expect(try fixture.store.history(id: "Y").isEmpty)
        #expect(try fixture.store.history(id: "X").map(\.change) == [x])
        #expect(try fixture.store.incidents().map(\.id) == ["X"])
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
