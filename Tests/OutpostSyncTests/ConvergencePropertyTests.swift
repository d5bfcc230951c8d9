import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// A cluster of replicas, each a store in its own folder, that can be closed and reopened.
final class Cluster {
    let root: String
    let names: [String]
    var stores: [Store?]
    var walls: [Int64]

    init(replicas: Int, label: String) throws {
        root = temporaryPath(label)
        names = (0..<replicas).map { "p\($0)" }
        stores = []
        walls = Array(repeating: Scenario.defaultClockMs, count: replicas)
        for name in names {
            stores.append(try Store.create(at: folder(name), reporter: name, replica: ReplicaID(bytes: Array(name.utf8))))
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func folder(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }

    func store(_ i: Int) -> Store { stores[i]! }

    /// Closes the store and opens it again from its folder (a process restart).
    func restart(_ i: Int) throws {
        stores[i] = nil
        stores[i] = try Store.open(at: folder(names[i]))
    }

    func sync(_ i: Int, _ j: Int, batchLimit: Int = 1000) async throws {
        _ = try await SyncSession(batchLimit: batchLimit).run(StoreTransport(store: store(i)), StoreTransport(store: store(j)))
    }
}

/// Every change a store holds (applied or held back), in its log order.
func allChanges(_ store: Store) throws -> [Change] {
    try store.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max).changes.map { try $0.change() }
}

/// The full merged state of every record (siblings with dots, tags, deps), as canonical JSON bytes.
func fullState(_ store: Store) throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for incident in try store.incidents(includeDeleted: true) {
        out[incident.id] = try #require(try store.recordState(id: incident.id)).json.serializedBytes()
    }
    return out
}

@Suite struct ConvergencePropertyTests {
    static let recordIDs = ["r1", "r2", "r3"]
    static let titles: [JSONValue] = ["Ambush", "Ambush near Gao", "Attaque à Ségou", "Se\u{301}gou raid", "هجوم", "ⵜⵉⵏⴱⵓⴽⵜⵓ 🔥"]

    /// A random valid value for a random non-title field (or the title).
    static func randomWrite(_ rng: inout SplitMix64) -> (String, JSONValue) {
        switch Int.random(in: 0..<9, using: &rng) {
        case 0: return ("title", titles.randomElement(using: &rng)!)
        case 1: return ("killed", .int(Int64.random(in: 0...12, using: &rng)))
        case 2: return ("injured", .int(Int64.random(in: 0...3, using: &rng)))
        case 3: return ("narrative", Bool.random(using: &rng) ? .null : .string("note \(Int.random(in: 0...5, using: &rng))"))
        case 4: return ("lat", .double([16.2717, -33.918861, 12.5, 0.1].randomElement(using: &rng)!))
        case 5: return ("place_name", .string(["Gao", "S\u{E9}gou", "Se\u{301}gou", ""].randomElement(using: &rng)!))
        case 6: return ("status", .string(["draft", "submitted", "verified"].randomElement(using: &rng)!))
        case 7: return ("event_type", .string(IncidentSchema.eventTypes.randomElement(using: &rng)!))
        default: return ("perpetrator", Bool.random(using: &rng) ? JSONValue.null : JSONValue.string("unknown"))
        }
    }

    /// One local edit at replica `i` that fits the record's state there; nil when none fits.
    static func randomEdit(_ cluster: Cluster, _ i: Int, _ rng: inout SplitMix64) throws -> Change? {
        let store = cluster.store(i)
        // Wall clocks jump forwards and sometimes backwards (a phone whose clock is reset).
        cluster.walls[i] += Int64.random(in: -3_600_000...1_800_000, using: &rng)
        if Int.random(in: 0..<20, using: &rng) == 0 { cluster.walls[i] += 4 * 365 * 86_400_000 }
        if Int.random(in: 0..<20, using: &rng) == 0 { cluster.walls[i] -= 4 * 365 * 86_400_000 }
        if Int.random(in: 0..<4, using: &rng) == 0 { cluster.walls[i] = Scenario.defaultClockMs }  // equal clocks
        let wall = cluster.walls[i]
        let id = recordIDs.randomElement(using: &rng)!
        guard let state = try store.recordState(id: id), !state.fields.isEmpty else {
            var fields: [String: JSONValue] = ["title": titles.randomElement(using: &rng)!]
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                let (f, v) = randomWrite(&rng)
                if f != "title" { fields[f] = v }
            }
            return try store.create(id: id, fields: fields, wallMs: wall)
        }
        if state.isDeleted {
            guard Bool.random(using: &rng) else { return nil }
            return try store.restore(id: id, wallMs: wall)
        }
        let roll = Int.random(in: 0..<10, using: &rng)
        if roll == 0 { return try store.delete(id: id, wallMs: wall) }
        if roll == 1 && state.isDeleteVisible { return try store.restore(id: id, wallMs: wall) }
        var fields: [String: JSONValue] = [:]
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let (f, v) = randomWrite(&rng)
            fields[f] = v
        }
        return try store.update(id: id, fields: fields, wallMs: wall)
    }

    /// Delivers some of `from`'s changes to `to` one at a time, shuffled: exercises causal hold-back.
    static func deliverOutOfOrder(_ from: Store, _ to: Store, _ rng: inout SplitMix64) throws {
        var changes =
            Bool.random(using: &rng)
            ? try allChanges(from)
            : try from.changes(missingFrom: try to.summary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max).changes
                .map { try $0.change() }
        // A road out of a store records what of its own work leaves (restore detection reads it).
        try from.recordOwnSent(through: changes.filter { $0.dot.replica == from.replica }.map(\.dot.counter).max() ?? 0)
        changes.shuffle(using: &rng)
        let keep = Int.random(in: 0...changes.count, using: &rng)
        for change in changes.prefix(keep) { try to.applyRemote([change]) }
    }

    /// 40 seeds by default; `OUTPOST_PROPERTY_SEEDS=400 swift test …` for a longer soak.
    static let seedCount = ProcessInfo.processInfo.environment["OUTPOST_PROPERTY_SEEDS"].flatMap { Int($0) } ?? 40

    @Test(arguments: 0..<seedCount)
    func randomHistoriesConverge(seed: Int) async throws {
        var rng = SplitMix64(seed: UInt64(seed) &* 0x2545_F491_4F6C_DD1D &+ 17)
        let n = Int.random(in: 3...6, using: &rng)
        let cluster = try Cluster(replicas: n, label: "prop\(seed)")
        var made: [Change] = []
        func pair(_ rng: inout SplitMix64) -> (Int, Int) {
            let a = Int.random(in: 0..<n, using: &rng)
            var b = Int.random(in: 0..<(n - 1), using: &rng)
            if b >= a { b += 1 }
            return (a, b)
        }
        for _ in 0..<Int.random(in: 25...45, using: &rng) {
            let roll = Int.random(in: 0..<100, using: &rng)
            switch roll {
            case 0..<45:
                if let change = try Self.randomEdit(cluster, Int.random(in: 0..<n, using: &rng), &rng) { made.append(change) }
            case 45..<60:
                let (a, b) = pair(&rng)
                try await cluster.sync(a, b, batchLimit: Int.random(in: 1...4, using: &rng))
            case 60..<68:
                let (a, b) = pair(&rng)
                _ = try await SyncSession(batchLimit: Int.random(in: 1...5, using: &rng))
                    .send(from: StoreTransport(store: cluster.store(a)), to: StoreTransport(store: cluster.store(b)))
            case 68..<73:
                let (a, b) = pair(&rng)
                try ScenarioRunner.replayAll(from: cluster.store(a), to: cluster.store(b))
            case 73..<90:
                let (a, b) = pair(&rng)
                try Self.deliverOutOfOrder(cluster.store(a), cluster.store(b), &rng)
            case 90..<95:
                let (a, b) = pair(&rng)
                let file = try cluster.store(a).bundle(for: Bool.random(using: &rng) ? try cluster.store(b).summary() : nil).file
                _ = try cluster.store(b).applyBundle(file)
            default:
                try cluster.restart(Int.random(in: 0..<n, using: &rng))
            }
        }

        // Quiescence: everyone syncs with p0, twice round, then everyone must hold everything.
        for _ in 0..<2 { for i in 1..<n { try await cluster.sync(0, i) } }
        let summary = try cluster.store(0).summary()
        let reference = try fullState(cluster.store(0))
        let referenceView = try ScenarioReplicaView(store: cluster.store(0)).bytes
        #expect(try cluster.store(0).status().totalChanges == Int64(made.count))
        for i in 0..<n {
            let store = cluster.store(i)
            #expect(try store.summary() == summary, "seed \(seed): p\(i) summary differs")
            #expect(try store.status().heldBackChanges == 0, "seed \(seed): p\(i) still holds changes back")
            #expect(try fullState(store) == reference, "seed \(seed): p\(i) record states differ")
            #expect(try ScenarioReplicaView(store: store).bytes == referenceView, "seed \(seed): p\(i) view differs")
        }

        // Idempotent: everything again, from everyone, changes nothing.
        for i in 1..<n {
            let report = try ScenarioRunner.replayAll(from: cluster.store(i), to: cluster.store(0))
            #expect(report.applied == 0 && report.heldBack == 0, "seed \(seed): re-applying changed something")
        }
        #expect(try fullState(cluster.store(0)) == reference)

        // Order-independent: a fresh replica fed every change in another random order, some twice.
        let everything = try allChanges(cluster.store(0))
        var shuffled = everything + everything.filter { _ in Int.random(in: 0..<4, using: &rng) == 0 }
        shuffled.shuffle(using: &rng)
        let fresh = try Store.create(
            at: cluster.folder("fresh"), reporter: "fresh", replica: ReplicaID(bytes: Array("fresh".utf8)))
        var index = 0
        while index < shuffled.count {
            let size = Int.random(in: 1...3, using: &rng)
            try fresh.applyRemote(Array(shuffled[index..<min(index + size, shuffled.count)]))
            index += size
        }
        #expect(try fullState(fresh) == reference, "seed \(seed): a different delivery order reached another state")
        #expect(try fresh.summary().entries.filter { $0.key != fresh.replica } == summary.entries)

        // The same fold through the in-memory model (RecordState with a hold-back queue) agrees.
        var model: [String: RecordState] = [:]
        var pending = shuffled
        while !pending.isEmpty {
            var progress = false
            pending.removeAll { change in
                var state = model[change.record.id] ?? RecordState()
                switch state.decide(change) {
                case .holdBack: return false
                case .duplicate: progress = true; return true
                case .apply:
                    state.apply(change)
                    model[change.record.id] = state
                    progress = true
                    return true
                }
            }
            try #require(progress, "seed \(seed): model stuck with \(pending.count) changes held back")
        }
        #expect(model.mapValues { $0.json.serializedBytes() } == reference, "seed \(seed): store and model differ")

        // No write is lost: each write is a sibling now, or was seen by a later write of that field.
        let byDot = Dictionary(everything.map { ($0.dot, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byDot.count == made.count)
        for change in made {
            let state = try #require(try cluster.store(0).recordState(id: change.record.id))
            let history = try cluster.store(0).history(id: change.record.id)
            #expect(history.allSatisfy { $0.applied })
            for (field, value) in change.writes {
                let siblings = state.fields[field] ?? []
                if let sibling = siblings.first(where: { $0.dot == change.dot }) {
                    #expect(sibling.value.serializedBytes() == value.serializedBytes())
                    continue
                }
                let overwritten = history.contains { entry in
                    entry.change.writes[field] != nil && entry.change.deps.covers(change.dot)
                }
                #expect(overwritten, "seed \(seed): write \(change.dot) \(field)=\(value.serialized()) was lost")
            }
        }
        // Sibling sets are antichains ordered greatest first: no sibling's author had seen another.
        for id in Self.recordIDs {
            guard let state = try cluster.store(0).recordState(id: id) else { continue }
            for (field, siblings) in state.fields {
                #expect(
                    zip(siblings, siblings.dropFirst()).allSatisfy { $0.order > $1.order }, "seed \(seed): \(id).\(field) order")
                for s in siblings {
                    let deps = try #require(byDot[s.dot]).deps
                    #expect(
                        !siblings.contains { $0.dot != s.dot && deps.covers($0.dot) },
                        "seed \(seed): \(id).\(field) covered sibling")
                }
            }
        }
    }
}
