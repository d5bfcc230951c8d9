import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OutpostCore
import OutpostServer
import OutpostSync
import Testing

@testable import OutpostStore

/// A server over a fresh database in a temporary folder, with tokens for each role.
final class ServerFixture: @unchecked Sendable {
    let directory: String
    let backend: SQLiteBackend
    var configuration: ServerConfiguration

    /// A fresh server; with `seedDatabase`, a server over a copy of that database file (a server
    /// restored from a backup). `textIndexDelay` is the server's wait before it indexes pushed text
    /// (infinite: only when a test asks, `backend.textIndexer?.drainNow()`).
    init(
        limits: ServerLimits = ServerLimits(), seedDatabase: String? = nil, queryIndexes: Bool = true,
        textIndexDelay: Double = 0.25
    ) throws {
        directory = NSTemporaryDirectory() + "outpost-server-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configuration = ServerConfiguration(databasePath: directory + "/server.db", host: "127.0.0.1", port: 0)
        configuration.limits = limits
        if let seedDatabase { try FileManager.default.copyItem(atPath: seedDatabase, toPath: configuration.databasePath) }
        backend = try SQLiteBackend(
            databasePath: configuration.databasePath, create: true, queryIndexes: queryIndexes, textIndexDelay: textIndexDelay)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var store: Store { backend.store }

    func app() throws -> some ApplicationProtocol {
        var logger = Logger(label: "outpost-server-tests")
        logger.logLevel = .warning
        return try buildApplication(configuration: configuration, backend: backend, logger: logger)
    }

    func token(_ reporter: String, _ role: Role = .reporter) throws -> String {
        try backend.enroll(reporter: reporter, role: role)
    }

    /// A reporter's store in its own folder.
    func replica(_ name: String) throws -> Store {
        try Store.create(at: directory + "/" + name, reporter: name)
    }

    /// Runs `body` against the router test client.
    func test<T>(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await app().test(.router) { client in try await body(client) }
    }
}

/// A `ServerLink` that sends batches through the router test client (gzip both ways).
struct RouterLink: ServerLink {
    let client: any TestClientProtocol
    let token: String
    var gzip = true

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        var body = request.encoded()
        if gzip {
            body = try Gzip.compress(body)
            headers[.contentEncoding] = "gzip"
            headers[.acceptEncoding] = "gzip"
        }
        let response = try await client.executeRequest(
            uri: "/v1/sync", method: .post, headers: headers, body: ByteBuffer(bytes: body))
        let bytes = try responseBytes(response)
        guard response.status == .ok else {
            throw LinkError(status: response.status.code, body: String(decoding: bytes, as: UTF8.self))
        }
        return try ServerSyncResponse.decode(try JSONParser.parse(bytes))
    }

    func sendParcel(_ parcel: [UInt8]) async throws -> ParcelReceipt {
        let headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/octet-stream"]
        let response = try await client.executeRequest(
            uri: "/v1/parcels", method: .post, headers: headers, body: ByteBuffer(bytes: parcel))
        let bytes = try responseBytes(response)
        guard response.status == .ok else {
            throw LinkError(status: response.status.code, body: String(decoding: bytes, as: UTF8.self))
        }
        return try ParcelReceipt(json: try JSONParser.parse(bytes))
    }
}

struct LinkError: Error, CustomStringConvertible {
    var status: Int
    var body: String
    var description: String { "HTTP \(status): \(body)" }
}

/// The response body, gunzipped when the server compressed it.
func responseBytes(_ response: TestResponse) throws -> [UInt8] {
    let bytes = Array(response.body.readableBytesView)
    if response.headers[.contentEncoding] == "gzip" { return try Gzip.decompress(bytes, maxOutput: 1 << 28) }
    return bytes
}

func responseJSON(_ response: TestResponse) throws -> JSONValue {
    try JSONParser.parse(try responseBytes(response))
}

/// The error code of a JSON error body.
func errorCode(_ response: TestResponse) -> String? {
    (try? responseJSON(response))?["error"]?["code"]?.stringValue
}

func errorMessage(_ response: TestResponse) -> String {
    (try? responseJSON(response))?["error"]?["message"]?.stringValue ?? ""
}

func bearer(_ token: String, _ extra: HTTPFields = [:]) -> HTTPFields {
    var h = extra
    h[.authorization] = "Bearer \(token)"
    return h
}

/// Sends a raw sync body.
func postSync(
    _ client: any TestClientProtocol, token: String?, body: [UInt8], headers: HTTPFields = [:]
) async throws -> TestResponse {
    var h = headers
    if let token { h[.authorization] = "Bearer \(token)" }
    return try await client.executeRequest(uri: "/v1/sync", method: .post, headers: h, body: ByteBuffer(bytes: body))
}

/// Alice's 40 incidents (the first 10 edited: 50 changes) and Bob's 23, for the sync tests that
/// move them in many small batches.
func seedTwoReporters(_ fixture: ServerFixture) throws -> (alice: Store, bob: Store) {
    let alice = try fixture.replica("alice")
    let bob = try fixture.replica("bob")
    var ids: [String] = []
    for i in 0..<40 {
        ids.append(try alice.create(fields: ["title": .string("A \(i)"), "killed": .int(Int64(i))]).record.id)
    }
    for i in 0..<10 { _ = try alice.update(id: ids[i], fields: ["injured": .int(Int64(i))]) }
    for i in 0..<23 { try bob.create(fields: ["title": .string("B \(i)")]) }
    return (alice, bob)
}

/// Alice, Bob and the server hold the same 63 incidents of `seedTwoReporters`, every change is
/// acknowledged, and Bob has pulled to the end of the server's log.
func expectTwoReportersConverged(_ fixture: ServerFixture, alice: Store, bob: Store) throws {
    #expect(try alice.incidents().count == 63)
    #expect(Set(try alice.incidents().map(\.fields)) == Set(try bob.incidents().map(\.fields)))
    #expect(Set(try bob.incidents().map(\.fields)) == Set(try fixture.store.incidents().map(\.fields)))
    #expect(try alice.integerSetting(ServerSyncClient.ackedCounterKey) == 50)
    #expect(try bob.integerSetting(ServerSyncClient.ackedCounterKey) == 23)
    #expect(try bob.integerSetting(ServerSyncClient.pullCursorKey) == (try fixture.store.lastSeq()))
}

/// A test device: an Ed25519 key pair, the replica ID it gives, and a token enrolled by that key
/// (in the roster, bound to the replica), so the changes it signs verify on the server.
struct TestDevice: Sendable {
    let key: DeviceKey
    let token: String
    let reporter: String

    var replica: ReplicaID { key.replicaID }

    /// A change of this device to incident `id`, signed (tag ms = 1000 + counter unless given).
    func change(
        _ counter: UInt64, id: String, deps: [ReplicaID: UInt64] = [:], writes: [String: JSONValue], ms: Int64? = nil
    ) -> Change {
        key.signed(
            Change(
                dot: Dot(replica: replica, counter: counter), record: RecordKey(id: id), deps: VersionVector(deps),
                tag: HLCTag(ms: ms ?? 1_000 + Int64(counter), seq: 0), writes: writes, reporter: reporter))
    }

    /// A sync request of this device carrying `changes`.
    func request(_ changes: [Change], pullAfter: Int64 = 0, pullLimit: Int = 1000) -> ServerSyncRequest {
        ServerSyncRequest(replica: replica, reporter: reporter, changes: changes, pullAfter: pullAfter, pullLimit: pullLimit)
    }
}

extension ServerFixture {
    /// A new device of `reporter`, enrolled by its key.
    func device(_ reporter: String) throws -> TestDevice {
        let key = DeviceKey()
        let token = try backend.enroll(reporter: reporter, device: (key.replicaID, key.publicKey))
        return TestDevice(key: key, token: token, reporter: reporter)
    }

    /// A token for `reporter` with `store`'s device enrolled by its key (in the roster, the token
    /// bound to its replica), so the store's signed changes verify on the server.
    func token(_ reporter: String, for store: Store) throws -> String {
        try backend.enroll(reporter: reporter, device: (store.replica, store.publicKey))
    }
}

/// The binding proof of a first sync: `key`'s public key and its signature over the binding
/// message for `replica` and `token`.
func binding(_ key: DeviceKey, replica: ReplicaID? = nil, token: String) -> (key: [UInt8], bind: [UInt8]) {
    (key.publicKey, key.signature(for: Store.bindingMessage(replica: replica ?? key.replicaID, token: token)))
}

/// The binding proof of `store`'s device for `token` (its key signs, as the client does).
func binding(of store: Store, token: String) -> (key: [UInt8], bind: [UInt8]) {
    (store.publicKey, store.key.signature(for: Store.bindingMessage(replica: store.replica, token: token)))
}
