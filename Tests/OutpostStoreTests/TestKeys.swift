import Crypto
import OutpostCore
import OutpostStore

/// Signing keys for hand-made changes in tests: one fixed key per replica (its seed is the
/// SHA-256 of the replica's bytes), so a test's changes are signed like any replica's. A store
/// that does not know the key keeps them as unverified, which applies them all the same.
enum TestKeys {
    /// The key of `replica`.
    static func key(for replica: ReplicaID) -> DeviceKey {
        try! DeviceKey(seed: Array(SHA256.hash(data: replica.bytes)))
    }

    /// The change signed by its author's test key.
    static func signed(_ change: Change) -> Change { key(for: change.dot.replica).signed(change) }

    /// The roster entry that makes `replica`'s test key known to a store (`Store.trust`).
    static func entry(for replica: ReplicaID, reporter: String = "tester") -> RosterEntry {
        RosterEntry(replica: replica, key: key(for: replica).publicKey, reporter: reporter, status: .active, version: 1)
    }
}
