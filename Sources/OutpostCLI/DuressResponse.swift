import Crypto
import Foundation
import OutpostStore

/// What the duress passphrase does: destroys the store as `outpost wipe` does (keys first,
/// then every file) and makes a fresh, empty store for the same reporter under the duress
/// passphrase, without a word. To whoever typed it, the store simply holds nothing yet.
enum DuressResponse {
    /// Wipes the store at `path` and starts a fresh one; returns the fresh store's data key.
    static func wipeAndStartOver(at path: String, reporter: String, passphrase: String) throws(CLIError) -> SymmetricKey {
        _ = AgentClient.lock(storeAt: path)
        do {
            try Keyfile.destroy(inStore: path)
            _ = try Shredder.shredStore(in: path)
        } catch {
            throw CLIError(error)
        }
        WrongPassphraseDelay.reset(storeAt: path)
        let fresh = try StoreKeyAccess.createStore(at: path, reporter: reporter, passphrase: passphrase)
        _ = try? fresh.store.checkpointAndTruncate()
        return fresh.key
    }
}
