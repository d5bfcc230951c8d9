import Foundation
import OutpostCore

/// A conflict scenario that cannot be run: unreadable, malformed, or a step that cannot be carried out.
///
/// Names the file and, when it is about one step, the step's index in `steps` (0-based, as a JSON path).
public struct ScenarioError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The scenario file (as given on the command line), or a label.
    public var file: String
    /// The step's index in `steps`, when the problem is in one step.
    public var step: Int?
    /// What is wrong, in words.
    public var message: String

    /// Makes an error.
    public init(file: String, step: Int? = nil, _ message: String) {
        self.file = file
        self.step = step
        self.message = message
    }

    public var description: String {
        if let step { return "\(file): steps[\(step)] (step \(step + 1)): \(message)" }
        return "\(file): \(message)"
    }
}

/// One local edit a scenario step makes at a replica.
public enum ScenarioEdit: Hashable, Sendable {
    /// A new incident with these fields.
    case create(id: String, fields: [String: JSONValue])
    /// An edit of fields of a record the replica holds.
    case update(id: String, fields: [String: JSONValue])
    /// A delete.
    case delete(id: String)
    /// A restore.
    case restore(id: String)

    /// The step kind's name, as in the file.
    public var kind: String {
        switch self {
        case .create: return "create"
        case .update: return "update"
        case .delete: return "delete"
        case .restore: return "restore"
        }
    }

    /// The record edited.
    public var id: String {
        switch self {
        case .create(let id, _), .update(let id, _), .delete(let id), .restore(let id): return id
        }
    }
}

/// One step of a scenario (see `conflict-scenarios.md`).
public enum ScenarioStep: Hashable, Sendable {
    /// Replica `at` makes an edit; `clockMs` sets its wall clock first (nil keeps the last one).
    case edit(at: String, clockMs: Int64?, edit: ScenarioEdit)
    /// Two-way sync.
    case sync(String, String)
    /// One-way: `from` sends `to` every change `to` lacks.
    case send(from: String, to: String)
    /// `from` sends `to` every change it holds again, duplicates included.
    case replay(from: String, to: String)
    /// Hand-made wire-format changes (each one JSON object's bytes) delivered to `to` as one
    /// batch from a peer: read by the wire decoder, applied in one transaction. `refused`: the
    /// batch must be refused, and `to` must then hold exactly what it held before.
    case deliver(to: String, changes: [[UInt8]], refused: Bool)
    /// `replica`'s whole store is copied, as a backup would, and kept under `name`.
    case backup(replica: String, name: String)
    /// `replica`'s store is replaced by the copy `name`, written over its files in place.
    case restoreBackup(replica: String, name: String)
}

/// What must hold after the steps.
public struct ScenarioExpectations: Hashable, Sendable {
    /// Replicas that must hold identical visible records and conflicts (nil: not checked).
    public var converged: [String]?
    /// Record id → exact visible fields, or nil for "deleted/absent" (nil map: not checked).
    public var records: [String: [String: JSONValue]?]?
    /// Record id → field → sibling values, greatest first (nil map: not checked).
    public var conflicts: [String: [String: [JSONValue]]]?

    /// Makes expectations.
    public init(
        converged: [String]? = nil, records: [String: [String: JSONValue]?]? = nil,
        conflicts: [String: [String: [JSONValue]]]? = nil
    ) {
        self.converged = converged
        self.records = records
        self.conflicts = conflicts
    }
}

/// A parsed, checked conflict scenario.
public struct Scenario: Hashable, Sendable {
    /// The file it came from (for messages).
    public var file: String
    /// What it shows.
    public var name: String
    /// Replica names, in file order; each replica's id is its name's UTF-8 bytes.
    public var replicas: [String]
    /// The steps, in order.
    public var steps: [ScenarioStep]
    /// What must hold at the end.
    public var expect: ScenarioExpectations

    /// Makes a scenario.
    public init(file: String, name: String, replicas: [String], steps: [ScenarioStep], expect: ScenarioExpectations) {
        self.file = file
        self.name = name
        self.replicas = replicas
        self.steps = steps
        self.expect = expect
    }

    /// A replica's wall clock before its first `clock`: 2026-01-01T00:00:00Z.
    public static let defaultClockMs: Int64 = DateText.epochMilliseconds("2026-01-01T00:00:00Z")!

    /// Reads and checks a scenario file.
    public static func load(path: String) throws(ScenarioError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(file: path, "cannot read the file")
        }
        return try parse(Array(data), file: path)
    }

    /// Parses and checks scenario JSON strictly: unknown keys, step kinds or replicas, bad clock
    /// text and field values the incident model refuses are errors naming the file and step.
    public static func parse(_ bytes: [UInt8], file: String) throws(ScenarioError) -> Scenario {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw ScenarioError(file: file, error.description) }
        var p = ScenarioParser(file: file)
        return try p.scenario(json)
    }
}

/// The strict reader behind `Scenario.parse`.
///
/// Besides the steps of `conflict-scenarios.md`, the project's corpus has one step of its own,
/// for changes no correct replica makes (what a hostile or broken peer sends):
///
///     {"deliver": {"to": R, "changes": [<wire-format change objects>], "refused": true|false}}
///
/// R receives the changes as one batch from a peer: each is read by the real wire decoder
/// (`Change(jsonBytes:)`, the bounds of `trust.md` included) and the batch is applied through
/// the real apply path (`Store.applyRemote`, as a sync does). With `"refused": true` the batch
/// must be refused (by the decoder or the store) and R must hold exactly what it held before;
/// with `false` (the default) it must be taken. Either way a miss is a failed expectation.
///
/// A `restore_backup` step must name a backup that an earlier `backup` step made of the same
/// replica; each `backup` step gives its copy a name of its own.
private struct ScenarioParser {
    let file: String
    var step: Int?
    var replicaSet: Set<[UInt8]> = []
    /// Backup name (its UTF-8 bytes: names are compared byte-wise) → the name, the replica it
    /// copies and the index of the step that made it.
    var backups: [[UInt8]: (name: String, replica: String, step: Int)] = [:]

    init(file: String) { self.file = file }

    func fail(_ message: String) -> ScenarioError { ScenarioError(file: file, step: step, message) }

    func object(_ value: JSONValue?, _ what: String, keys: Set<String>, required: Set<String>) throws(ScenarioError)
        -> [String: JSONValue]
    {
        guard case .object(let o)? = value else { throw fail("\(what) must be a JSON object") }
        for key in o.keys.sorted() where !keys.contains(key) {
            throw fail("unknown key \"\(key)\" in \(what) (known: \(keys.sorted().joined(separator: ", ")))")
        }
        for key in required.sorted() where o[key] == nil { throw fail("\(what) lacks \"\(key)\"") }
        return o
    }

    func string(_ value: JSONValue?, _ what: String) throws(ScenarioError) -> String {
        guard case .string(let s)? = value else { throw fail("\(what) must be a string") }
        return s
    }

    /// A replica name that the file lists (compared byte-wise).
    func replica(_ value: JSONValue?, _ what: String) throws(ScenarioError) -> String {
        let name = try string(value, what)
        guard replicaSet.contains(Array(name.utf8)) else {
            throw fail("\(what) names unknown replica \"\(name)\" (not in \"replicas\")")
        }
        return name
    }

    func recordID(_ value: JSONValue?, _ what: String) throws(ScenarioError) -> String {
        let id = try string(value, what)
        guard RecordKey.isValidID(id) else { throw fail("\(what) \(RecordKey.idRule)") }
        return id
    }

    mutating func scenario(_ json: JSONValue) throws(ScenarioError) -> Scenario {
        let top = try object(
            json, "the scenario", keys: ["name", "replicas", "steps", "expect"],
            required: ["name", "replicas", "steps", "expect"])
        let name = try string(top["name"], "\"name\"")
        guard case .array(let replicaList)? = top["replicas"], !replicaList.isEmpty else {
            throw fail("\"replicas\" must be a non-empty array of names")
        }
        var replicas: [String] = []
        for (i, value) in replicaList.enumerated() {
            let r = try string(value, "replicas[\(i)]")
            let trimmed = r.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed == r, r.count <= 100 else {
                throw fail("replicas[\(i)] must be a name of 1–100 characters without surrounding white space")
            }
            // The replica id is the name's UTF-8 bytes; the wire format carries ids of at most 64 bytes.
            guard r.utf8.count <= 64 else { throw fail("replicas[\(i)] \"\(r)\" is longer than 64 UTF-8 bytes") }
            guard replicaSet.insert(Array(r.utf8)).inserted else { throw fail("replica \"\(r)\" is listed twice") }
            replicas.append(r)
        }
        guard case .array(let stepList)? = top["steps"] else { throw fail("\"steps\" must be an array") }
        var steps: [ScenarioStep] = []
        for (i, value) in stepList.enumerated() {
            step = i
            steps.append(try parseStep(value))
        }
        step = nil
        let expect = try expectations(top["expect"])
        return Scenario(file: file, name: name, replicas: replicas, steps: steps, expect: expect)
    }

    static let editKinds = ["create", "update", "delete", "restore"]
    static let stepKinds = [
        "create", "update", "delete", "restore", "sync", "send", "replay", "deliver", "backup", "restore_backup",
    ]

    mutating func parseStep(_ value: JSONValue) throws(ScenarioError) -> ScenarioStep {
        guard case .object(let o) = value else { throw fail("a step must be a JSON object") }
        let kinds = o.keys.filter { $0 != "at" && $0 != "clock" }.sorted()
        guard kinds.count == 1, let kind = kinds.first else {
            if kinds.isEmpty { throw fail("the step has no kind (one of \(Self.stepKinds.joined(separator: ", ")))") }
            throw fail("the step has several kinds (\(kinds.joined(separator: ", "))); give exactly one")
        }
        guard Self.stepKinds.contains(kind) else {
            throw fail("unknown step kind \"\(kind)\" (known: \(Self.stepKinds.joined(separator: ", ")))")
        }
        if Self.editKinds.contains(kind) {
            let at = try replica(o["at"], "\"at\"")
            var clockMs: Int64? = nil
            if let clock = o["clock"] {
                let text = try string(clock, "\"clock\"")
                guard let ms = DateText.epochMilliseconds(text), text.utf8.count > 10 else {
                    throw fail("\"clock\" \(clock.serialized()) is not an RFC 3339 date-time (e.g. 2026-03-01T10:00:00Z)")
                }
                guard Change.msRange.contains(ms) else {
                    throw fail(
                        "\"clock\" \(clock.serialized()) is out of range: a change's time lies from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"
                    )
                }
                clockMs = ms
            }
            return .edit(at: at, clockMs: clockMs, edit: try edit(kind, o[kind]))
        }
        if o["at"] != nil || o["clock"] != nil {
            throw fail("\"at\" and \"clock\" belong to create, update, delete and restore steps, not \(kind)")
        }
        switch kind {
        case "sync":
            guard case .array(let pair)? = o["sync"], pair.count == 2 else {
                throw fail("\"sync\" must be an array of two replica names")
            }
            let a = try replica(pair[0], "sync[0]")
            let b = try replica(pair[1], "sync[1]")
            guard Array(a.utf8) != Array(b.utf8) else { throw fail("\"sync\" names \"\(a)\" twice") }
            return .sync(a, b)
        case "deliver":
            let d = try object(o["deliver"], "\"deliver\"", keys: ["to", "changes", "refused"], required: ["to", "changes"])
            let to = try replica(d["to"], "deliver.to")
            guard case .array(let items)? = d["changes"], !items.isEmpty else {
                throw fail("deliver.changes must be a non-empty array of wire-format changes")
            }
            var refused = false
            switch d["refused"] {
            case .bool(let b)?: refused = b
            case nil: break
            default: throw fail("deliver.refused must be true or false")
            }
            return .deliver(to: to, changes: items.map { $0.serializedBytes() }, refused: refused)
        case "backup":
            let b = try object(o["backup"], "\"backup\"", keys: ["replica", "as"], required: ["replica", "as"])
            let copied = try replica(b["replica"], "backup.replica")
            let name = try string(b["as"], "backup.as")
            guard !name.isEmpty else { throw fail("backup.as must be a non-empty name") }
            if let earlier = backups[Array(name.utf8)] {
                throw fail(
                    "backup.as \"\(name)\" is already the name of the backup made in steps[\(earlier.step)]; give each backup its own name"
                )
            }
            backups[Array(name.utf8)] = (name, copied, step ?? 0)
            return .backup(replica: copied, name: name)
        case "restore_backup":
            let r = try object(
                o["restore_backup"], "\"restore_backup\"", keys: ["replica", "from"], required: ["replica", "from"])
            let restored = try replica(r["replica"], "restore_backup.replica")
            let name = try string(r["from"], "restore_backup.from")
            guard let made = backups[Array(name.utf8)] else {
                let known = backups.values.map(\.name).sorted().map { "\"\($0)\"" }.joined(separator: ", ")
                throw fail(
                    "restore_backup.from names unknown backup \"\(name)\" (no earlier backup step makes it; "
                        + (known.isEmpty ? "none is made before this step)" : "made before this step: \(known))"))
            }
            guard Array(made.replica.utf8) == Array(restored.utf8) else {
                throw fail(
                    "restore_backup.from names backup \"\(name)\" of replica \"\(made.replica)\", not of \"\(restored)\"; a store is restored from a copy of itself"
                )
            }
            return .restoreBackup(replica: restored, name: name)
        default:
            let o2 = try object(o[kind], "\"\(kind)\"", keys: ["from", "to"], required: ["from", "to"])
            let from = try replica(o2["from"], "\(kind).from")
            let to = try replica(o2["to"], "\(kind).to")
            guard Array(from.utf8) != Array(to.utf8) else { throw fail("\"\(kind)\" sends \"\(from)\" to itself") }
            return kind == "send" ? .send(from: from, to: to) : .replay(from: from, to: to)
        }
    }

    func edit(_ kind: String, _ value: JSONValue?) throws(ScenarioError) -> ScenarioEdit {
        switch kind {
        case "create", "update":
            let o = try object(value, "\"\(kind)\"", keys: ["id", "fields"], required: ["id", "fields"])
            let id = try recordID(o["id"], "\(kind).id")
            guard case .object(let fields)? = o["fields"] else { throw fail("\(kind).fields must be a JSON object") }
            do throws(ValidationError) {
                if kind == "create" {
                    try IncidentSchema.validateNew(fields: fields)
                } else {
                    guard !fields.isEmpty else { throw ValidationError(field: "fields", rule: "must name at least one field") }
                    if fields[Change.deletedField] != nil {
                        throw ValidationError(field: Change.deletedField, rule: "is set by delete and restore steps")
                    }
                    try IncidentSchema.validate(writes: fields)
                }
            } catch { throw fail("invalid field value in \(kind) of \(id): \(error.description)") }
            return kind == "create" ? .create(id: id, fields: fields) : .update(id: id, fields: fields)
        default:
            let o = try object(value, "\"\(kind)\"", keys: ["id"], required: ["id"])
            let id = try recordID(o["id"], "\(kind).id")
            return kind == "delete" ? .delete(id: id) : .restore(id: id)
        }
    }

    func expectations(_ value: JSONValue?) throws(ScenarioError) -> ScenarioExpectations {
        let o = try object(value, "\"expect\"", keys: ["converged", "records", "conflicts"], required: [])
        var expect = ScenarioExpectations()
        if let converged = o["converged"] {
            guard case .array(let names) = converged else { throw fail("expect.converged must be an array of replica names") }
            var seen = Set<[UInt8]>()
            var list: [String] = []
            for (i, n) in names.enumerated() {
                let r = try replica(n, "expect.converged[\(i)]")
                guard seen.insert(Array(r.utf8)).inserted else { throw fail("expect.converged names \"\(r)\" twice") }
                list.append(r)
            }
            expect.converged = list
        }
        if let records = o["records"] {
            guard case .object(let byID) = records else { throw fail("expect.records must be a JSON object") }
            var out: [String: [String: JSONValue]?] = [:]
            for (id, fields) in byID {
                switch fields {
                case .null: out[id] = .some(nil)
                case .object(let f):
                    for (field, v) in f {
                        guard IncidentSchema.byName[field] != nil else {
                            throw fail("expect.records.\(id) names unknown field \"\(field)\"")
                        }
                        guard v.isScalar else { throw fail("expect.records.\(id).\(field) must be a JSON scalar") }
                    }
                    out[id] = .some(f)
                default: throw fail("expect.records.\(id) must be an object of fields or null")
                }
            }
            expect.records = out
        }
        if let conflicts = o["conflicts"] {
            guard case .object(let byID) = conflicts else { throw fail("expect.conflicts must be a JSON object") }
            var out: [String: [String: [JSONValue]]] = [:]
            for (id, fields) in byID {
                guard case .object(let f) = fields, !f.isEmpty else {
                    throw fail("expect.conflicts.\(id) must be a non-empty object of field → sibling values")
                }
                var perField: [String: [JSONValue]] = [:]
                for (field, list) in f {
                    guard IncidentSchema.byName[field] != nil else {
                        throw fail(
                            "expect.conflicts.\(id) names unknown field \"\(field)\" (\(Change.deletedField) is not reported)")
                    }
                    guard case .array(let values) = list, values.count >= 2, values.allSatisfy(\.isScalar) else {
                        throw fail("expect.conflicts.\(id).\(field) must be an array of at least two scalar values")
                    }
                    perField[field] = values
                }
                out[id] = perField
            }
            expect.conflicts = out
        }
        return expect
    }
}
