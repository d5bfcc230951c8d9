import OutpostCore
import OutpostStore

/// What a device gives a peer where teams are in force (issue 14): in the clear what the peer may
/// read, the rest sealed for the server.
extension Store {
    /// What `reader` may be given of `changes` (see `SyncTransport.outgoing`): the reader is
    /// looked up again in this store's roster by its replica (a peer does not choose its team);
    /// a reader that names no replica, or one the roster does not name, is given nothing in the clear.
    public func outgoing(_ changes: [Change], for reader: PeerReader?) throws -> OutgoingChanges {
        guard try teamsInForce, !changes.isEmpty else { return OutgoingChanges(clear: changes) }
        // Judged by this store's roster, never by what the far side says of itself.
        let judged = try reader?.replica.flatMap { try self.reader(of: $0) }
        let (clear, withheld) = try split(changes, for: judged)
        guard !withheld.isEmpty else { return OutgoingChanges(clear: clear) }
        guard let parcelKey = try parcelKey()?.key else {
            return OutgoingChanges(clear: clear, leftOut: withheld.count)
        }
        let parcels = try Parcel.seal(
            changeBodies: withheld.map { $0.encodedJSON() }, to: parcelKey, perParcel: Parcel.maxChanges)
        return OutgoingChanges(clear: clear, parcels: parcels, sealed: withheld.count)
    }

    /// Seals change bodies into parcels to `parcelKey` (the sealer `applyRemote` takes).
    public static let parcelSealer: ParcelSealer = { bodies, key in
        try Parcel.seal(changeBodies: bodies, to: key, perParcel: Parcel.maxChanges)
    }
}
