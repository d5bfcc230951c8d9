import OutpostCore
import OutpostStore

/// Sealed parcels in a server sync (issue 14): the device pins the server's parcel key from the
/// first answer, and once the batches are through hands the server every parcel it carries.
extension ServerSyncClient {
    /// Link failures after which no further parcel is tried in this sync: the next one would fail
    /// alike (no answer, a refused token or device, a failing server, a wrong TLS key).
    static let parcelStoppers: Set<ServerLinkError.Kind> = [.unreachable, .unauthorized, .forbidden, .serverError, .pinMismatch]

    /// Pins the parcel key an answer carries: it must be signed by the roster key this device
    /// pinned, and once pinned no other key is taken. Either failure is the server's roster-key
    /// mismatch in another form (another server, or an impostor), and fails the sync the same way
    /// (`StoreError.Kind.invalidState`). An answer without a parcel key changes nothing.
    func acceptParcelKey(_ response: ServerSyncResponse) throws {
        guard let key = response.parcelKey, let signature = response.parcelKeySignature else { return }
        if let pinned = try store.parcelKey(), pinned.key == key { return }
        // Without a pinned roster key there is nothing to check the parcel key against.
        guard let rosterKey = try store.rosterKey() else { return }
        // Checked here too, so that a key the roster key did not sign fails as a mismatch does.
        guard SignatureCheck.isValid(signature, of: Store.parcelKeyStatement(key), publicKey: rosterKey) else {
            throw StoreError(
                .invalidState,
                "the server's parcel key \(Base64URL.encode(key)) is not signed by the roster key this device pinned; this is another server, or someone is impersonating it. Nothing was changed"
            )
        }
        try store.pinParcelKey(key, signature: signature)
    }

    /// Hands the server every sealed parcel this device carries, oldest first. Each one the
    /// server takes (applied, or opened before) is dropped; one it does not take stays for the next
    /// sync, with a warning. After a failure of the link itself (`parcelStoppers`) the rest are
    /// not tried. Returns how many went, how many the device still carries, and the warnings.
    func forwardParcels() async throws -> (forwarded: Int, kept: Int, warnings: [String]) {
        var kept = Set<[UInt8]>()
        var forwarded = 0
        var warnings: [String] = []
        var stopped = false
        while !stopped {
            // Kept parcels stay first in line: read past them.
            let skipped = kept
            let waiting = try store.heldParcels(limit: skipped.count + 8).filter { !skipped.contains($0.hash) }
            if waiting.isEmpty { break }
            for parcel in waiting {
                if stopped { break }
                try Task.checkCancellation()
                guard let failure = try await forward(parcel) else {
                    forwarded += 1
                    continue
                }
                kept.insert(parcel.hash)
                warnings.append(
                    "a sealed parcel (\(parcel.bytes.count) bytes) was not taken by the server and stays on this "
                        + "device for the next sync: \(failure)")
                if let linkFailure = failure as? ServerLinkError, ServerSyncClient.parcelStoppers.contains(linkFailure.kind) {
                    stopped = true
                }
            }
        }
        return (forwarded, try store.parcelStats().count, warnings)
    }

    /// Sends one parcel and drops it once the server has taken it; nil then, else why the server
    /// did not take it (a failure of the store or a cancellation is thrown).
    private func forward(_ parcel: HeldParcel) async throws -> (any Error)? {
        let receipt: ParcelReceipt
        do {
            receipt = try await link.sendParcel(parcel.bytes)
        } catch let error as CancellationError {
            throw error
        } catch {
            return error
        }
        guard receipt.parcel == parcel.hash else {
            return ServerLinkError(
                .invalidResponse, "the server's receipt names another parcel (\(Base64URL.encode(receipt.parcel)))")
        }
        try store.dropParcel(hash: parcel.hash)
        return nil
    }
}
