import OutpostCore
import OutpostStore

/// The human-readable output of `list`, `show`, `history` and `status`.
public enum HumanFormat {
    /// A value as plain text: strings as they are, numbers and booleans as in JSON.
    public static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .null: return "(none)"
        default: return value.serialized()
        }
    }

    /// The `list` table: id, title, event type, occurred at, place, status, and flags: `!` for a
    /// conflict, `deleted`, and `unverified` for an incident whose current values hold work of an
    /// author the roster does not name yet.
    public static func list(_ records: [IncidentRecord], unverified: Set<String> = []) -> String {
        let renderer = TableRenderer(
            header: ["ID", "TITLE", "EVENT TYPE", "OCCURRED AT", "PLACE", "STATUS", "!"],
            maxWidths: [nil, 40, 26, 25, 24, 10, nil])
        let rows = records.map { record -> [String] in
            func field(_ name: String) -> String { record.fields[name].map(text) ?? "" }
            var flags = record.conflict ? "!" : ""
            if record.deleted { flags += "deleted" }
            if unverified.contains(record.id) { flags += flags.isEmpty ? "unverified" : " unverified" }
            return [
                record.id, field("title"), field("event_type"), field("occurred_at"), field("place_name"), field("status"), flags,
            ]
        }
        return renderer.render(rows)
    }

    /// The `show` text: one `field  value` line per set field, then conflicts and flags. Authors are
    /// the roster's names (`authors`); `unverified` marks values from an author not in the roster yet.
    public static func show(
        _ record: IncidentRecord, conflicts: [(field: String, siblings: [Sibling])], unverified: Bool = false,
        authors: [ReplicaID: String] = [:]
    ) -> String {
        let names = ["id"] + IncidentSchema.fieldNames.filter { record.fields[$0] != nil }
        let width = max(names.map(\.count).max() ?? 0, "updated_at".count)
        func line(_ name: String, _ value: String) -> String {
            let pad = String(repeating: " ", count: width - name.count + 2)
            let indent = "\n" + String(repeating: " ", count: width + 2)
            return name + pad + value.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: indent) + "\n"
        }
        var out = line("id", record.id)
        for name in IncidentSchema.fieldNames {
            if let value = record.fields[name] { out += line(name, text(value)) }
        }
        out += line("created_at", DateText.rfc3339(epochMilliseconds: record.createdMs))
        out += line("updated_at", DateText.rfc3339(epochMilliseconds: record.updatedMs))
        if record.deleted { out += line("deleted", "yes (restore it with `outpost restore \(record.id)`)") }
        if unverified {
            out += line(
                "verified",
                "NO: some values come from a device the roster does not name yet (unverified; see `outpost history \(record.id)`)"
            )
        }
        if record.conflict {
            out += "\nCONFLICTS (the first value is the one shown):\n"
            for (field, siblings) in conflicts {
                out += "  \(field):\n"
                for sibling in siblings {
                    out +=
                        "    \(sibling.value.serialized())  by \(author(authors[sibling.dot.replica], sibling.dot)) at \(DateText.rfc3339(epochMilliseconds: sibling.tag.ms))\n"
                }
            }
            if conflicts.isEmpty { out += "  a delete is contested by an edit its author had not seen\n" }
        }
        return out
    }

    /// The `history` text: one block per change, oldest first, each author as the roster names it
    /// and marked when unverified (author not in the roster yet) or unsigned (made before signatures).
    public static func history(_ entries: [AttributedChange]) -> String {
        var out = ""
        for (index, attributed) in entries.enumerated() {
            let entry = attributed.entry
            let change = entry.change
            let what: String
            switch change.writes[Change.deletedField] {
            case .bool(true)?: what = "deleted"
            case .bool(false)?: what = "restored"
            default: what = index == 0 ? "created" : "edited"
            }
            out += "\(DateText.rfc3339(epochMilliseconds: change.tag.ms))  \(author(attributed.author, change.dot))  \(what)"
            switch attributed.verified {
            case nil: out += "  [unverified: author not in the roster yet]"
            case false?: out += "  [unsigned: made before signatures]"
            case true?: break
            }
            out += entry.applied ? "\n" : " (held back: waiting for earlier changes)\n"
            let known = IncidentSchema.fieldNames.filter { change.writes[$0] != nil }
            let others = change.writes.keys.filter { IncidentSchema.byName[$0] == nil && $0 != Change.deletedField }.sorted()
            for field in known + others {
                let value = change.writes[field]!
                let shown = value == .null ? "(cleared)" : TableRenderer.fit(text(value), to: 100)
                out += "    \(field) = \(shown)\n"
            }
        }
        return out
    }

    /// The `status` text.
    public static func status(_ status: StoreStatus, path: String) -> String {
        let rows: [(String, String)] = [
            ("store", path), ("replica", status.replica.hex), ("reporter", status.reporter),
            ("incidents", String(status.incidents)), ("conflicts", String(status.conflicts)),
            ("unsynced changes", String(status.unsyncedChanges)), ("own changes", String(status.ownChanges)),
            ("held back", String(status.heldBackChanges)), ("total changes", String(status.totalChanges)),
            ("server", status.server ?? "(not configured)"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 + "\n" }.joined()
    }

    /// `reporter (replica:counter)` with the replica id shortened; "unknown" when the roster does not name it.
    static func author(_ reporter: String?, _ dot: Dot) -> String {
        let short = String(dot.replica.hex.prefix(8))
        return "\(reporter ?? "unknown") (\(short):\(dot.counter))"
    }
}
