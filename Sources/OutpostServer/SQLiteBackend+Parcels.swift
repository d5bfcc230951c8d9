import OutpostCore
import OutpostStore
import OutpostSync

/// Sealed parcels on the server: its parcel key (made once, vouched for by the roster key) and
/// the opening of a parcel a device hands in.
extension SQLiteBackend: ParcelRepository {
    /// The server's parcel key (made at the first call and kept in the store) and the roster
    /// key's signature over it, as every sync answer carries them and `enroll` prints them.
    public func vouchedParcelKey() throws -> ParcelKeyVouch {
        let key = Array(try store.serverParcelKey().publicKey.rawRepresentation)
        return ParcelKeyVouch(key: key, signature: rosterKey.signature(for: Store.parcelKeyStatement(key)))
    }

    /// Opens, verifies and applies a parcel on the sync queue, one at a time with sync batches.
    ///
    /// A parcel is known by the SHA-256 of its bytes: one opened before (`parcels_opened`) is a
    /// duplicate, answered without opening it. One that does not open (not a parcel, sealed to
    /// another key, a byte changed) is refused whole with a security event naming the token. Its
    /// changes are applied exactly as a pushed batch (`trust: .server`, each verified against the
    /// roster, recorded as delivered by the token): one refused change refuses the parcel and
    /// nothing of it is stored. A crash between the apply and the record of the parcel leaves it
    /// to be opened again: its changes are then duplicates.
    public func openParcel(_ parcel: [UInt8], deliveredBy token: Int64?) async throws -> ParcelReceipt {
        try await onSyncQueue { [store, syncLock] in
            try syncLock.withLock { try self.openParcelNow(parcel, hash: Parcel.hash(parcel), deliveredBy: token, store: store) }
        }
    }

    /// `openParcel` on the sync queue, under the sync lock (as a sync batch runs).
    private func openParcelNow(_ parcel: [UInt8], hash: [UInt8], deliveredBy token: Int64?, store: Store) throws
        -> ParcelReceipt
    {
        if try store.wasParcelOpened(hash: hash) { return ParcelReceipt(status: .duplicate, parcel: hash) }
        let changes: [Change]
        do {
            changes = try Parcel.open(parcel, with: try store.serverParcelKey())
        } catch let error as ParcelError {
            try? store.recordSecurityEvent(
                kind: "bad_parcel", token: token,
                detail: "parcel \(Base64URL.encode(hash)) (\(parcel.count) bytes): \(error.message)")
            throw error
        }
        let logEnd = try store.lastSeq()
        let report: ApplyReport
        do {
            report = try store.applyRemote(changes, trust: .server, deliveredBy: token)
        } catch {
            if error.kind == .refusedChange {
                try? store.recordSecurityEvent(
                    kind: error.refusal?.reason.rawValue ?? "refused_change", token: token,
                    detail: "in parcel \(Base64URL.encode(hash)): \(error.message)")
            }
            throw error
        }
        // Who may read the records it touched (teams, restricted), and its text: as after a sync batch.
        try afterApply(report, logEnd: logEnd)
        try store.recordParcelOpened(hash: hash, token: token, changes: changes.count)
        return ParcelReceipt(
            status: .applied, parcel: hash, changes: changes.count, applied: report.applied,
            duplicates: report.duplicates, heldBack: report.heldBack)
    }
}
