import OutpostCore
import OutpostStore

/// Teams at server sync (issue 14): every pulling request asks for the access notices after
/// `server_access_after`; each pulled answer's notices are applied before its changes (a record
/// moved into this device's team is then readable when its changes arrive, one moved out or
/// restricted to another reporter is forgotten), and its `access_cursor` becomes the next
/// `access_after`, saved in the same transaction as the answer's changes.
extension ServerSyncClient {
    /// Setting holding the access position the device has taken notices up to.
    public static let accessAfterKey = "server_access_after"

    /// The stored access position (the first request's `access_after`).
    func storedAccessAfter() throws -> Int64 { try store.integerSetting(ServerSyncClient.accessAfterKey) }

    /// The access position to ask after once `response` (an answer to a pull) is taken.
    static func accessAfter(following response: ServerSyncResponse, current: Int64) -> Int64 {
        response.accessCursor ?? current
    }

    /// Applies the access notices of an answer to a pull (before its changes).
    func applyAccess(of response: ServerSyncResponse) throws {
        // Own changes of a forgotten record that the server lacks go to it sealed.
        try store.applyAccessNotices(response.access, sealer: Store.parcelSealer)
    }

    /// After a sync: forgets what this device holds of records it may not read (own edits of a
    /// moved record kept until the server acknowledged them, copies a stale peer handed over).
    func forgetUnreadableLeftovers() throws {
        try store.forgetWhatThisDeviceMayNotRead(sealer: Store.parcelSealer)
    }
}
