import Crypto
import Foundation
import OutpostCore
import OutpostStore

/// The keys of a scenario's replicas: every replica knows every other's key, as devices that
/// share a server's roster do, and a restored replica's new IDs are named `R#2`, `R#3`, …
/// (`conflict-scenarios.md`), each known to all once it appears.
struct ScenarioIdentities {
    /// Replica name → how many IDs it has had (1 until it is first restored).
    private var generations: [String: Int] = [:]
    /// Every identity already trusted by every store.
    private var known: Set<[UInt8]> = []

    /// Makes every store know every store's current key, and names the IDs a restored store takes.
    mutating func update(_ stores: [String: Store]) throws {
        var entries: [RosterEntry] = []
        for (name, store) in stores.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            let taken = generations[name] ?? 1
            generations[name] = taken
            let counter = NameCounter(name: name, next: taken + 1)
            store.restoredReplicaNaming = { counter.take() }
            if !known.contains(store.replica.bytes) {
                entries.append(
                    RosterEntry(replica: store.replica, key: store.publicKey, reporter: name, status: .active, version: 1))
            }
        }
        // A store restored since the last step has taken names: remember how many.
        for (name, store) in stores {
            let text = String(decoding: store.replica.bytes, as: UTF8.self)
            if let hash = text.lastIndex(of: "#"), text[..<hash] == name, let n = Int(text[text.index(after: hash)...]) {
                generations[name] = max(generations[name] ?? 1, n)
            }
        }
        guard !entries.isEmpty else { return }
        for store in stores.values { try store.trust(entries) }
        for entry in entries { known.insert(entry.replica.bytes) }
    }

    /// The signing key of an outsider the scenario names only in `deliver` steps (no store holds
    /// it, so its changes stay unverified): fixed by the replica's bytes.
    static func outsiderKey(for replica: ReplicaID) -> DeviceKey {
        try! DeviceKey(seed: Array(SHA256.hash(data: Array("outpost-scenario-outsider:".utf8) + replica.bytes)))
    }
}

/// Hands out `name#n`, `name#n+1`, … to one store's rotations.
private final class NameCounter: @unchecked Sendable {
    // @unchecked Sendable: `next` is read and written only while holding `lock`.
    private let lock = NSLock()
    private let name: String
    private var next: Int

    init(name: String, next: Int) {
        self.name = name
        self.next = next
    }

    func take() -> ReplicaID {
        lock.withLock {
            defer { next += 1 }
            return ReplicaID(bytes: Array("\(name)#\(next)".utf8))
        }
    }
}
