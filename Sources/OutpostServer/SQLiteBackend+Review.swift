import OutpostCore
import OutpostStore

/// Analysts' edits: changes signed by their server-held replicas, applied like a push.
extension SQLiteBackend {
    /// Makes `edit` a change of the analyst's replica and applies it through the verified apply
    /// path of a push (signature against the roster, access rows, query indexes), on the sync
    /// queue so it never interleaves with a batch. Devices get it with their next pull.
    public func edit(_ edit: AnalystEdit) async throws -> Change {
        try await onSyncQueue { [self, store, syncLock, rosterKey] in
            try syncLock.withLock {
                let key = RecordKey(id: edit.id)
                guard edit.scope.mayRead(try store.serverAccess(of: key)), let state = try store.recordState(id: edit.id),
                    !state.fields.isEmpty
                else { throw AnalystEdit.Refusal.notFound }
                guard state.version.covers(edit.seen) else { throw AnalystEdit.Refusal.unknownVersion }
                let change = try store.makeAnalystChange(
                    reporter: edit.reporter, team: edit.rosterTeam, record: key, deps: edit.seen, writes: edit.writes,
                    rosterKey: rosterKey)
                let logEnd = try store.lastSeq()
                let report = try store.applyRemote([change], trust: .server, deliveredBy: edit.tokenID)
                // As after a sync batch: access rows, and the edited text indexed (a review note).
                try afterApply(report, logEnd: logEnd)
                return change
            }
        }
    }
}
