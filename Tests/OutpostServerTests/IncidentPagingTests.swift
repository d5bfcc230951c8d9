import Foundation
import OutpostCore
import OutpostServer
import OutpostStore
import Testing

/// Queries without field filters are paged in SQL: they must give exactly what the scan of every
/// incident gives (the same filter, order, total, pages and cursors).
@Suite struct IncidentPagingTests {
    /// The scan's answer, computed here from every stored incident.
    private func reference(_ store: Store, _ query: IncidentQuery) throws -> (
        incidents: [IncidentRecord], total: Int, next: IncidentCursor?
    ) {
        let all = try store.incidents(includeDeleted: true).filter { query.matches($0) }
        var rest = all[...]
        if let after = query.after {
            rest = rest.drop { !($0.createdMs > after.createdMs || ($0.createdMs == after.createdMs && $0.id > after.id)) }
        } else {
            rest = rest.dropFirst(query.offset)
        }
        let page = Array(rest.prefix(query.limit))
        let next = rest.count > query.limit ? page.last.map { IncidentCursor(createdMs: $0.createdMs, id: $0.id) } : nil
        return (page, all.count, next)
    }

    @Test func sqlPagingMatchesTheScan() async throws {
        let fixture = try ServerFixture()
        let store = fixture.store
        // 40 incidents; several share a creation time (the id breaks the tie); some edited later,
        // some deleted.
        var ids: [String] = []
        for i in 0..<40 {
            let made = try store.create(
                id: "inc-\(String(format: "%02d", (i * 7) % 40))", fields: ["title": .string("Report \(i)")],
                wallMs: 1_000 + Int64(i / 3) * 10)
            ids.append(made.record.id)
        }
        for (n, id) in ids.enumerated() where n % 5 == 0 {
            try store.update(id: id, fields: ["killed": 1], wallMs: 5_000 + Int64(n))
        }
        for (n, id) in ids.enumerated() where n % 6 == 1 { try store.delete(id: id, wallMs: 6_000 + Int64(n)) }

        var queries: [IncidentQuery] = []
        for includeDeleted in [false, true] {
            for since in [nil, Int64(1_050), Int64(5_010)] {
                for (offset, limit) in [(0, 100), (0, 7), (5, 7), (33, 7), (60, 5)] {
                    var q = IncidentQuery()
                    q.includeDeleted = includeDeleted
                    q.updatedAfterMs = since
                    q.offset = offset
                    q.limit = limit
                    queries.append(q)
                }
            }
        }
        for query in queries {
            #expect(!query.filtersFields)
            // Walk every page by cursor too.
            var q = query
            var pages = 0
            repeat {
                let got = try await fixture.backend.incidents(matching: q)
                let want = try reference(store, q)
                #expect(got.incidents.map(\.id) == want.incidents.map(\.id), "\(q)")
                #expect(got.incidents == want.incidents)
                #expect(got.total == want.total)
                #expect(got.next == want.next)
                q.after = got.next
                pages += 1
            } while q.after != nil && pages < 50
            #expect(pages < 50)
        }
    }
}
