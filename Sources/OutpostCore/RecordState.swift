/// One write kept in a field's sibling set.
public struct Sibling: Hashable, Sendable {
    /// The written value.
    public var value: JSONValue
    /// The change that wrote it.
    public var dot: Dot
    /// The writer's tag.
    public var tag: HLCTag
    /// The writing change's deps; kept only for `_deleted` writes, which the delete rule reads.
    public var deps: VersionVector?
    /// The author's reporter name, when known.
    public var reporter: String?

    /// Makes a sibling.
    public init(value: JSONValue, dot: Dot, tag: HLCTag, deps: VersionVector? = nil, reporter: String? = nil) {
        self.value = value
        self.dot = dot
        self.tag = tag
        self.deps = deps
        self.reporter = reporter
    }

    /// The write-order key.
    public var order: WriteOrder { WriteOrder(tag: tag, author: dot.replica, counter: dot.counter) }
}

/// How a change relates to a record's state.
public enum ApplyDecision: Hashable, Sendable {
    /// Already applied (its dot is covered): ignore.
    case duplicate
    /// Its deps are not yet covered: hold it back.
    case holdBack
    /// Ready to apply.
    case apply
}

/// A record's merged state under the sync spec: its version vector and per-field sibling sets.
public struct RecordState: Hashable, Sendable {
    /// Replica → highest counter applied to this record.
    public var version: VersionVector
    /// Field → siblings, greatest write order first.
    public var fields: [String: [Sibling]]

    /// An empty record (no writes yet).
    public init(version: VersionVector = VersionVector(), fields: [String: [Sibling]] = [:]) {
        self.version = version
        self.fields = fields
    }

    /// Rules 1 and 2 of the spec: duplicate, hold back, or apply.
    public func decide(_ change: Change) -> ApplyDecision {
        if version.covers(change.dot) { return .duplicate }
        if !version.covers(change.deps) { return .holdBack }
        return .apply
    }

    /// Whether no change has been applied (no write, nothing seen).
    public var isEmpty: Bool { fields.isEmpty && version.entries.isEmpty }

    /// The state a record's first change makes: exactly `RecordState()` with `change` applied,
    /// built in one pass (the fields table takes the writes' own layout, no key is hashed again).
    public init(creating change: Change) {
        let (dot, tag, reporter) = (change.dot, change.tag, change.reporter)
        fields = change.writes.mapValues { [Sibling(value: $0, dot: dot, tag: tag, reporter: reporter)] }
        if fields[Change.deletedField] != nil { fields[Change.deletedField]![0].deps = change.deps }
        version = VersionVector()
        version[dot.replica] = dot.counter
    }

    /// Rules 3 and 4: replace covered siblings with the new writes and advance the vector.
    /// The caller has checked `decide(change) == .apply`.
    public mutating func apply(_ change: Change) {
        if isEmpty {
            self = RecordState(creating: change)
            return
        }
        for (field, value) in change.writes {
            let sibling = Sibling(
                value: value, dot: change.dot, tag: change.tag,
                deps: field == Change.deletedField ? change.deps : nil, reporter: change.reporter)
            // Mutated in place (no copy of the field's sibling array).
            Self.insert(sibling, replacingCoveredBy: change.deps, into: &fields[field, default: []])
        }
        version[change.dot.replica] = max(version[change.dot.replica], change.dot.counter)
    }

    private static func insert(_ sibling: Sibling, replacingCoveredBy deps: VersionVector, into siblings: inout [Sibling]) {
        // Empty deps cover nothing: no scan (a hostile author's writes that never cover each other).
        if !siblings.isEmpty && !deps.isEmpty { siblings.removeAll { deps.covers($0.dot) } }
        if siblings.isEmpty {
            siblings.append(sibling)
            return
        }
        let order = sibling.order
        let position = siblings.firstIndex { $0.order < order } ?? siblings.endIndex
        siblings.insert(sibling, at: position)
    }

    /// The visible value of a field: the sibling with the greatest write order.
    public func visibleValue(_ field: String) -> JSONValue? { fields[field]?.first?.value }

    /// Whether `_deleted` is visibly true (the record may still be kept alive by a concurrent edit).
    public var isDeleteVisible: Bool { visibleValue(Change.deletedField) == .bool(true) }

    /// Whether the record is deleted: `_deleted` visibly true and every other write seen by a delete.
    public var isDeleted: Bool {
        guard isDeleteVisible, let deleteSiblings = fields[Change.deletedField] else { return false }
        var seen = VersionVector()
        for sibling in deleteSiblings where sibling.value == .bool(true) {
            if let deps = sibling.deps { seen.merge(deps) }
        }
        for (field, siblings) in fields where field != Change.deletedField {
            for sibling in siblings where !seen.covers(sibling.dot) { return false }
        }
        return true
    }

    /// A delete is visible but an edit its author had not seen keeps the record alive.
    public var isKeptAliveByConcurrentEdit: Bool { isDeleteVisible && !isDeleted }

    /// Field → visible value, for every field with a write except `_deleted`.
    public var visibleFields: [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (field, siblings) in fields where field != Change.deletedField {
            if let first = siblings.first { out[field] = first.value }
        }
        return out
    }

    /// Appends the visible fields as a JSON object, keys sorted: the same bytes as
    /// `JSONValue.object(visibleFields).serializedBytes()`, without building the dictionary.
    public func writeVisibleJSON(to out: inout [UInt8]) {
        var members: [VisibleMember] = []
        members.reserveCapacity(fields.count)
        for (field, siblings) in fields where field != Change.deletedField {
            if let first = siblings.first { members.append(VisibleMember(key: field, value: first.value)) }
        }
        members.sort { $0.key < $1.key }
        out.append(UInt8(ascii: "{"))
        var first = true
        for member in members {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(member.key, to: &out)
            out.append(UInt8(ascii: ":"))
            member.value.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Field → siblings for fields in conflict (more than one sibling), `_deleted` excluded.
    public var conflicts: [String: [Sibling]] {
        fields.filter { $0.key != Change.deletedField && $0.value.count > 1 }
    }

    /// Whether any field other than `_deleted` is in conflict.
    public var hasConflict: Bool {
        fields.contains { $0.key != Change.deletedField && $0.value.count > 1 }
    }
}

/// One visible field while writing the visible JSON (a struct, not a tuple: no runtime tuple metadata).
private struct VisibleMember {
    var key: String
    var value: JSONValue
}
