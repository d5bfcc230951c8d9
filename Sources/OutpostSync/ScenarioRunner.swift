import Foundation
import OutpostCore
import OutpostStore

/// What one replica shows at the end of a scenario.
public struct ScenarioReplicaView: Hashable, Sendable {
    /// Visible record id → {field → visible value}.
    public var records: [String: JSONValue]
    /// Record id → {field → [sibling values, greatest first]}, visible records and conflicted fields only.
    public var conflicts: [String: JSONValue]

    /// Makes a view.
    public init(records: [String: JSONValue], conflicts: [String: JSONValue]) {
        self.records = records
        self.conflicts = conflicts
    }

    /// `{"records": …, "conflicts": …}`.
    public var json: JSONValue { .object(["records": .object(records), "conflicts": .object(conflicts)]) }

    /// The view as canonical JSON bytes (keys sorted): what "identical" means.
    public var bytes: [UInt8] { json.serializedBytes() }

    /// Reads what a store shows: visible incidents and their field conflicts.
    public init(store: Store) throws(StoreError) {
        var records: [String: JSONValue] = [:]
        for incident in try store.incidents() { records[incident.id] = .object(incident.fields) }
        var conflicts: [String: JSONValue] = [:]
        for record in try store.conflicts() where !record.fields.isEmpty {
            var fields: [String: JSONValue] = [:]
            for field in record.fields { fields[field.field] = .array(field.siblings.map(\.value)) }
            conflicts[record.id] = .object(fields)
        }
        self.init(records: records, conflicts: conflicts)
    }
}

/// The result of replaying one scenario.
public struct ScenarioOutcome: Hashable, Sendable {
    /// The scenario's name.
    public var name: String
    /// Every expectation held.
    public var pass: Bool { failures.isEmpty }
    /// Each failed expectation, in words.
    public var failures: [String]
    /// Replica name → what it shows.
    public var replicas: [String: ScenarioReplicaView]

    /// Makes an outcome.
    public init(name: String, failures: [String], replicas: [String: ScenarioReplicaView]) {
        self.name = name
        self.failures = failures
        self.replicas = replicas
    }

    /// `{"name", "pass", "failures", "replicas": {name: {"records", "conflicts"}}}`.
    public var json: JSONValue {
        .object([
            "name": .string(name), "pass": .bool(pass), "failures": .array(failures.map(JSONValue.string)),
            "replicas": .object(replicas.mapValues(\.json)),
        ])
    }

    /// The outcome as one line of JSON (keys sorted), without the newline.
    public var line: String { json.serialized() }
}

/// Replays scenarios through the real store and sync engine, each replica in its own fresh store.
public struct ScenarioRunner: Sendable {
    /// The folder under which each run makes (and removes) its temporary stores.
    public var temporaryRoot: String

    /// Makes a runner; by default its stores go in `defaultTemporaryRoot`.
    public init(temporaryRoot: String = ScenarioRunner.defaultTemporaryRoot) { self.temporaryRoot = temporaryRoot }

    /// `$TMPDIR` when set; else `/dev/shm` when it is a writable folder (replay stores are thrown
    /// away, and a store syncs every commit to disk: memory-backed storage makes replays ~15× faster);
    /// else the system's temporary folder.
    public static var defaultTemporaryRoot: String {
        if let tmp = ProcessInfo.processInfo.environment["TMPDIR"], !tmp.isEmpty { return tmp }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory), isDirectory.boolValue,
            FileManager.default.isWritableFile(atPath: "/dev/shm")
        {
            return "/dev/shm"
        }
        return NSTemporaryDirectory()
    }

    /// Loads, replays and checks one file.
    public func run(path: String) async throws(ScenarioError) -> ScenarioOutcome {
        try await run(try Scenario.load(path: path))
    }

    /// Replays a scenario and checks its expectations. Throws when a step cannot be carried out.
    public func run(_ scenario: Scenario) async throws(ScenarioError) -> ScenarioOutcome {
        let root = (temporaryRoot as NSString).appendingPathComponent("outpost-replay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var stores: [String: Store] = [:]
        for (i, name) in scenario.replicas.enumerated() {
            do {
                stores[name] = try Store.create(
                    at: (root as NSString).appendingPathComponent("replica-\(i)"), reporter: name,
                    replica: ReplicaID(bytes: Array(name.utf8)))
            } catch {
                throw ScenarioError(file: scenario.file, "cannot create the store of replica \"\(name)\": \(error)")
            }
        }
        var identities = ScenarioIdentities()
        do { try identities.update(stores) } catch {
            throw ScenarioError(file: scenario.file, "cannot give the replicas each other's keys: \(error)")
        }
        var walls: [String: Int64] = [:]
        var backups = ScenarioBackups(folder: (root as NSString).appendingPathComponent("backups"))
        var stepFailures: [String] = []
        for (index, step) in scenario.steps.enumerated() {
            do {
                if let failure = try await perform(step, stores: &stores, walls: &walls, backups: &backups) {
                    stepFailures.append("steps[\(index)] (\(step.summary)): \(failure)")
                }
                try identities.update(stores)
            } catch {
                throw ScenarioError(file: scenario.file, step: index, "\(step.summary) failed: \(error)")
            }
        }
        var views: [String: ScenarioReplicaView] = [:]
        for name in scenario.replicas {
            do { views[name] = try ScenarioReplicaView(store: stores[name]!) } catch {
                throw ScenarioError(file: scenario.file, "cannot read the state of replica \"\(name)\": \(error)")
            }
        }
        return ScenarioOutcome(
            name: scenario.name,
            failures: stepFailures + Self.check(scenario.expect, replicas: scenario.replicas, views: views), replicas: views)
    }

    /// Carries out a step; a `deliver` step whose outcome is not the one it expects gives that
    /// failure in words.
    private func perform(
        _ step: ScenarioStep, stores: inout [String: Store], walls: inout [String: Int64], backups: inout ScenarioBackups
    ) async throws -> String? {
        switch step {
        case .edit(let at, let clockMs, let edit):
            if let clockMs { walls[at] = clockMs }
            let wall = walls[at] ?? Scenario.defaultClockMs
            let store = stores[at]!
            switch edit {
            case .create(let id, let fields): try store.create(id: id, fields: fields, wallMs: wall)
            case .update(let id, let fields): try store.update(id: id, fields: fields, wallMs: wall)
            case .delete(let id): try store.delete(id: id, wallMs: wall)
            case .restore(let id): try store.restore(id: id, wallMs: wall)
            }
        case .sync(let a, let b):
            _ = try await SyncSession().run(StoreTransport(store: stores[a]!), StoreTransport(store: stores[b]!))
        case .send(let from, let to):
            _ = try await SyncSession().send(from: StoreTransport(store: stores[from]!), to: StoreTransport(store: stores[to]!))
        case .replay(let from, let to):
            try Self.replayAll(from: stores[from]!, to: stores[to]!)
        case .deliver(let to, let changes, let refused):
            return try await Self.deliver(changes, to: stores[to]!, refused: refused)
        case .backup(let replica, let name):
            try backups.make(name, of: stores[replica]!)
        case .restoreBackup(let replica, let name):
            try backups.restore(name, into: &stores, replica: replica)
        }
        return nil
    }

    /// Delivers hand-made wire-format changes to a store as one batch from a peer: each read by
    /// the wire decoder, the batch applied as a sync applies it. Nil when the outcome is the one
    /// expected; else what happened instead.
    static func deliver(_ changes: [[UInt8]], to store: Store, refused: Bool) async throws -> String? {
        let before = try ScenarioReplicaView(store: store).bytes
        let (beforeLog, _) = try store.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max)
        var refusal: String?
        do {
            var decoded: [Change] = []
            for (i, bytes) in changes.enumerated() {
                do {
                    var change = try bytes.withUnsafeBufferPointer { try Change(jsonBytes: $0) }
                    // A change written without `sig` comes from an outsider with a key of its own.
                    if change.sig == nil { change = ScenarioIdentities.outsiderKey(for: change.dot.replica).signed(change) }
                    decoded.append(change)
                } catch {
                    throw ChangeFormatError("changes[\(i)]: \(error)")
                }
            }
            let report = try await StoreTransport(store: store).receive(decoded)
            if let first = report.refused.first { throw StoreError(.refusedChange, first.description) }
        } catch {
            refusal = "\(error)"
        }
        switch (refused, refusal) {
        case (true, nil): return "expected the delivery to be refused, but it was taken"
        case (false, let reason?): return "expected the delivery to be taken, but it was refused: \(reason)"
        case (true, let reason?):
            let (afterLog, _) = try store.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max)
            guard try ScenarioReplicaView(store: store).bytes == before, afterLog == beforeLog else {
                return "the delivery was refused (\(reason)), but the store changed"
            }
            return nil
        case (false, nil): return nil
        }
    }

    /// Sends every change `from` holds to `to` again, duplicates included, in `from`'s log order.
    @discardableResult
    public static func replayAll(from: Store, to: Store) throws -> ApplyReport {
        let (stored, _) = try from.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max)
        let own = from.replica
        try from.recordOwnSent(through: stored.filter { $0.replica == own }.map(\.counter).max() ?? 0)
        return try to.applyRemote(try stored.map { try $0.change() })
    }

    // MARK: - Expectations

    /// Checks expectations against the replicas' views; each failure in words.
    ///
    /// Values are compared as serialized JSON bytes (never `String ==`, which treats NFC and NFD
    /// spellings as equal). `records` and `conflicts` are checked at every replica in `converged`
    /// (every replica when it is absent); replicas showing identical state are reported together.
    public static func check(
        _ expect: ScenarioExpectations, replicas: [String], views: [String: ScenarioReplicaView]
    ) -> [String] {
        var failures: [String] = []
        if let converged = expect.converged, let first = converged.first, let reference = views[first] {
            let refBytes = reference.bytes
            for name in converged.dropFirst() {
                guard let view = views[name], view.bytes != refBytes else { continue }
                failures.append(
                    "not converged: \(name) differs from \(first): " + describeDifference(reference, first, view, name))
            }
        }
        // Group the checked replicas by identical state so each failure is said once.
        let checked = expect.converged.flatMap { $0.isEmpty ? nil : $0 } ?? replicas
        var groups: [(names: [String], view: ScenarioReplicaView)] = []
        for name in checked {
            guard let view = views[name] else { continue }
            if let i = groups.firstIndex(where: { $0.view.bytes == view.bytes }) {
                groups[i].names.append(name)
            } else {
                groups.append(([name], view))
            }
        }
        for (names, view) in groups {
            let at = "at " + names.joined(separator: ", ")
            if let records = expect.records {
                for id in records.keys.sorted() {
                    let actual = view.records[id]
                    switch (records[id]!, actual) {
                    case (nil, nil): break
                    case (nil, let a?): failures.append("record \(id) should be deleted but is visible \(at): \(a.serialized())")
                    case (_?, nil): failures.append("record \(id) should be visible but is deleted or missing \(at)")
                    case (let e?, let a?):
                        let actualFields = a.objectValue ?? [:]
                        for field in Set(e.keys).union(actualFields.keys).sorted() {
                            switch (e[field], actualFields[field]) {
                            case (let ev?, let av?) where ev.serializedBytes() != av.serializedBytes():
                                failures.append(
                                    "record \(id) field \(field): expected \(ev.serialized()), got \(av.serialized()) \(at)")
                            case (let ev?, nil):
                                failures.append(
                                    "record \(id) field \(field): expected \(ev.serialized()), but it has no value \(at)")
                            case (nil, let av?):
                                failures.append("record \(id) has unexpected field \(field) = \(av.serialized()) \(at)")
                            default: break
                            }
                        }
                    }
                }
            }
            if let conflicts = expect.conflicts {
                for id in Set(conflicts.keys).union(view.conflicts.keys).sorted() {
                    let e = conflicts[id] ?? [:]
                    let a = view.conflicts[id]?.objectValue ?? [:]
                    for field in Set(e.keys).union(a.keys).sorted() {
                        let ev = e[field].map(JSONValue.array)
                        switch (ev, a[field]) {
                        case (let ev?, let av?) where ev.serializedBytes() != av.serializedBytes():
                            failures.append(
                                "conflict on \(id).\(field): expected siblings \(ev.serialized()), got \(av.serialized()) \(at)")
                        case (let ev?, nil):
                            failures.append(
                                "conflict on \(id).\(field): expected siblings \(ev.serialized()), but there is no conflict \(at)"
                            )
                        case (nil, let av?):
                            failures.append("unexpected conflict on \(id).\(field): siblings \(av.serialized()) \(at)")
                        default: break
                        }
                    }
                }
            }
        }
        return failures
    }

    private static func describeDifference(
        _ a: ScenarioReplicaView, _ aName: String, _ b: ScenarioReplicaView, _ bName: String
    ) -> String {
        var parts: [String] = []
        for id in Set(a.records.keys).union(b.records.keys).sorted() {
            let x = a.records[id]?.serializedBytes(), y = b.records[id]?.serializedBytes()
            if x != y {
                parts.append(
                    "record \(id) is \(b.records[id]?.serialized() ?? "absent") at \(bName) but \(a.records[id]?.serialized() ?? "absent") at \(aName)"
                )
            }
        }
        for id in Set(a.conflicts.keys).union(b.conflicts.keys).sorted() {
            let x = a.conflicts[id]?.serializedBytes(), y = b.conflicts[id]?.serializedBytes()
            if x != y {
                parts.append(
                    "conflicts of \(id) are \(b.conflicts[id]?.serialized() ?? "none") at \(bName) but \(a.conflicts[id]?.serialized() ?? "none") at \(aName)"
                )
            }
        }
        return parts.joined(separator: "; ")
    }

    // MARK: - The command

    /// The `outpost-replay FILE...` command: one JSON line per file on `output`, problems on `errors`.
    ///
    /// Returns the exit status: 0 when every file passes, 1 when an expectation fails, 2 when a
    /// file is unreadable or malformed (or a step cannot be carried out), or no file is given.
    public func main(
        arguments: [String], output: (String) -> Void, errors: (String) -> Void
    ) async -> Int32 {
        guard !arguments.isEmpty else {
            errors("usage: outpost-replay FILE...  (replays conflict scenarios; see conflict-scenarios.md)")
            return 2
        }
        var status: Int32 = 0
        for path in arguments {
            do {
                let outcome = try await run(path: path)
                output(outcome.line)
                if !outcome.pass && status == 0 { status = 1 }
            } catch {
                errors("outpost-replay: \(error.description)")
                status = 2
            }
        }
        return status
    }
}

extension ScenarioStep {
    /// The step in words, for messages.
    public var summary: String {
        switch self {
        case .edit(let at, _, let edit): return "\(edit.kind) of \(edit.id) at \(at)"
        case .sync(let a, let b): return "sync \(a) ⇄ \(b)"
        case .send(let from, let to): return "send \(from) → \(to)"
        case .replay(let from, let to): return "replay \(from) → \(to)"
        case .deliver(let to, let changes, let refused):
            return "deliver \(changes.count) change(s) to \(to)" + (refused ? ", to be refused" : "")
        case .backup(let replica, let name): return "backup of \(replica) as \(name)"
        case .restoreBackup(let replica, let name): return "restore_backup of \(replica) from \(name)"
        }
    }
}
