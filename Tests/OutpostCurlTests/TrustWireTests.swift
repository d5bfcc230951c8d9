import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import Testing

@testable import OutpostCurl

/// The trust members of a server sync, over real HTTP: the key and its binding to the token,
/// `roster_after`, the summary asked in the opening request, the roster key pinned from the
/// answer, and the pull position's dot sent back.
@Suite("Trust over the wire", .timeLimit(.minutes(2)))
struct TrustWireTests {
    @Test func theDeviceBindsItsKeyPinsTheRosterKeyAndNamesItsPullPosition() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-trustwire-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try Store.create(at: folder, reporter: "alice")
        try store.create(id: "a0", fields: ["title": "Flood"])
        let office = DeviceKey()
        let entry = RosterEntry(replica: store.replica, key: store.publicKey, reporter: "alice", status: .active, version: 4)
            .signed(by: office)
        let pointedAt = Dot(replica: ReplicaID(bytes: Array(repeating: 9, count: 16)), counter: 12)
        let server = try TestHTTPServer { request in
            guard let body = try? Gzip.decompress(request.body, maxOutput: 1 << 20),
                let sent = try? ServerSyncRequest.decode(try JSONParser.parse(body))
            else { return .respond(status: 400) }
            var answer = ServerSyncResponse(
                serverTimeMs: Int64(Date().timeIntervalSince1970 * 1000),
                ackedCounter: UInt64(sent.changeCount), applied: sent.changeCount, duplicates: 0, heldBack: 0, changes: [],
                cursor: 30, more: false)
            answer.cursorDot = pointedAt
            answer.rosterKey = office.publicKey
            answer.roster = (sent.rosterAfter ?? 0) < 4 ? [entry] : []
            if sent.wantsSummary { answer.summary = SyncSummary() }
            return .respond(
                status: 200, headers: [HTTPField("Content-Type", "application/json")], body: answer.encoded())
        }
        defer { server.stop() }
        let link = try CurlServerLink(
            serverURL: server.baseURL, token: "the-token",
            options: CurlOptions(connectTimeout: .seconds(2), noProxy: "127.0.0.1"),
            retryPolicy: .none)
        let report = try await ServerSyncClient(store: store, link: link, token: "the-token").run()
        #expect(report.sent == 1)
        #expect(try store.rosterKey() == office.publicKey)
        #expect(try store.roster().first { $0.replica == store.replica }?.version == 4)

        let requests = try server.requests.map {
            try ServerSyncRequest.decode(try JSONParser.parse(try Gzip.decompress($0.body, maxOutput: 1 << 20)))
        }
        let opening = try #require(requests.first)
        #expect(opening.wantsSummary && opening.changeCount == 0 && opening.rosterAfter == 0)
        let key = try #require(opening.key), bind = try #require(opening.bind)
        #expect(key == store.publicKey && ReplicaID.derived(fromPublicKey: key) == opening.replica)
        #expect(
            SignatureCheck.isValid(bind, of: Store.bindingMessage(replica: opening.replica, token: "the-token"), publicKey: key))
        // A binding is good for its token only.
        #expect(
            !SignatureCheck.isValid(bind, of: Store.bindingMessage(replica: opening.replica, token: "another"), publicKey: key))
        #expect(requests.dropFirst().allSatisfy { !$0.wantsSummary && $0.rosterAfter == 4 })

        // The next sync names the change its position points at.
        _ = try await ServerSyncClient(store: store, link: link, token: "the-token").run()
        let next = try #require(
            try server.requests.last.map {
                try ServerSyncRequest.decode(try JSONParser.parse(try Gzip.decompress($0.body, maxOutput: 1 << 20)))
            })
        #expect(next.pullAfter == 30 && next.pullAfterDot == pointedAt)
    }
}
