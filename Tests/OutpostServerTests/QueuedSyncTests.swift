import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// Counts finished requests across tasks.
final class Counter: @unchecked Sendable {
    // @unchecked Sendable: `value` is only read and written under `lock`.
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

@Suite struct QueuedSyncTests {
    /// While sync batches wait for the store (another connection holds its write lock), /healthz
    /// and analysts' reads still answer: the waiting batches hold no thread those need.
    @Test func healthAndReadsAnswerWhileSyncsQueue() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let reporters = try (0..<4).map { i -> (Store, String) in
            let store = try fixture.replica("r\(i)")
            try store.create(fields: ["title": .string("Incident \(i)")])
            return (store, try fixture.token("r\(i)", for: store))
        }
        let blocker = try WriteBlocker(path: fixture.configuration.databasePath)
        let finished = Counter()
        try await fixture.test { client in
            try blocker.begin()
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for (store, token) in reporters {
                    tasks.addTask {
                        _ = try? await ServerSyncClient(store: store, link: RouterLink(client: client, token: token)).run()
                        finished.increment()
                    }
                }
                // Give the batches time to reach the store (if they have not, this proves less, never wrongly).
                try await Task.sleep(for: .milliseconds(500))
                let health = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
                let list = try await client.executeRequest(
                    uri: "/v1/incidents", method: .get, headers: bearer(analyst), body: nil)
                let waiting = finished.count
                try blocker.end()
                #expect(health.status == .ok)
                #expect(list.status == .ok)
                #expect(waiting == 0, "\(waiting) sync batches finished before /healthz answered")
                try await tasks.waitForAll()
            }
        }
        #expect(finished.count == 4)
        // A batch that waited longer than the store's busy timeout (a loaded machine) was refused
        // with 503 and stored nothing; syncing again delivers it, as a reporter's retry would.
        try await fixture.test { client in
            for (store, token) in reporters {
                _ = try await ServerSyncClient(store: store, link: RouterLink(client: client, token: token)).run()
            }
        }
        #expect(try fixture.store.incidents().count == 4)
    }
}

/// Another connection holding the database's write lock, as a long transaction would.
final class WriteBlocker: @unchecked Sendable {
    // @unchecked Sendable: the test calls `begin` and `end` one after the other, never at once.
    private let database: Database

    init(path: String) throws { database = try Database(path: path, create: false) }

    func begin() throws { try database.execute("BEGIN IMMEDIATE") }

    func end() throws { try database.execute("ROLLBACK") }
}
