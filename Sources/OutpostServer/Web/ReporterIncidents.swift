import Foundation
import NIOPosix
import OutpostCore
import OutpostStore

/// Which incidents an enrolled reporter wrote to, for the incidents page's reporter filter until
/// `IncidentQuery` has one of its own (issue 15, item 5). Reads the server database on a
/// connection of its own: the reporter's replicas are those its roster entries and tokens name
/// (never the name a change carries).
final class ReporterIncidents: @unchecked Sendable {
    // @unchecked Sendable: `db` is only used under `lock`.
    private let db: Database
    private let lock = NSLock()

    init(databasePath path: String) throws {
        db = try Database(path: path, create: false)
        db.setBusyTimeout(milliseconds: 5_000)
    }

    /// The ids of incidents with at least one change by a replica enrolled for `reporter`.
    func incidentIDs(reporter: String) async throws -> Set<String> {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            lock.lock()
            defer { lock.unlock() }
            var ids = Set<String>()
            try db.cached(
                """
                SELECT DISTINCT c.record FROM changes c JOIN replicas r ON r.idx = c.replica
                WHERE c.collection = ? AND r.id IN (
                    SELECT replica FROM roster WHERE reporter = ? AND sig IS NOT NULL
                    UNION SELECT replica FROM server_tokens WHERE reporter = ? AND replica IS NOT NULL)
                """
            ).bind(.text(RecordKey.incidents), .text(reporter), .text(reporter)).forEach { row in
                if let id = row.text(0) { ids.insert(id) }
            }
            return ids
        }
    }
}
