import Foundation
import OutpostCore

/// The server's query indexes held in memory: every `query_incidents` row as a plain value and
/// every incident's searched text as the text index holds it (`QueryIndexWriter.searchText`),
/// so a filter tests each incident in memory instead of reading index pages, and the incidents
/// page counts, bins and charts every match without SQLite.
///
/// Owned by one `Store` and used only while its lock is held (inside `read`). It follows the
/// database by the change log: every write of an incident's index row is an apply that logs a
/// change with a greater `seq`, so the incidents named by changes after the last `seq` it saw
/// are the ones to read again. Removing changes (a revoked key's, a restore's) rebuilds records
/// and may hand out their `seq`s again, and a deleted `records` row takes its index row with it
/// (the trigger `query_incidents_forget`): both advance the index generation
/// (`QueryIndexWriter.advanceGeneration`), and a mirror of an older generation is read again in
/// full.
final class QueryMirror {
    /// One incident as `query_incidents` holds it.
    struct Entry {
        var rowid: Int64
        var createdMs: Int64
        var updatedMs: Int64
        /// `occurred_at` in ms, when `flags` holds `Entry.occurred`.
        var occurredMs: Int64
        /// The point (NaN: none; every comparison with it is false, as with SQL's NULL).
        var lat: Double
        var lon: Double
        /// `replicas.idx` of the creating replica (-1: unknown).
        var creator: Int64
        /// Codes of `event_type` and `status` in `QueryMirror.codes` (-1: none).
        var eventType: Int32
        var status: Int32
        /// Code of its team (`record_access.team`; -1: none, in no team).
        var team: Int32
        var flags: UInt8

        static let deleted: UInt8 = 1
        static let conflict: UInt8 = 2
        static let occurred: UInt8 = 4
    }

    /// One searched field as the text index holds it: lowercased, NFC unless ASCII, and the
    /// lowercased value itself when NFC changed it.
    struct Field {
        var bytes: [UInt8]
        var ascii: Bool
        var raw: String?
    }

    /// The incidents, in no order.
    var entries: [Entry] = []
    /// Their ids (by position in `entries`).
    var ids: [String] = []
    /// Their searched fields (by position in `entries`).
    var text = MirrorText()
    /// Their titles as written, once read from their state (by position in `entries`; the
    /// outer nil: not read yet).
    var titles: [String??] = []
    /// `records` rowid → position in `entries`.
    var slots: [Int64: Int] = [:]
    /// Event types, statuses and teams → their codes.
    var codes: [String: Int32] = [:]
    /// The incidents' `record_access` rows when their teams were last read in full or checked:
    /// how many, and the greatest access position (`Store+QueryMirror`'s `refreshTeams`).
    var access: (count: Int, pos: Int64) = (0, 0)
    /// The greatest change `seq` the mirror has taken in.
    var seq: Int64 = 0
    /// The index generation it was read in (`QueryIndexWriter.generation`).
    var generation: Int64 = 0

    /// The code of a type or status (interned).
    func code(_ value: String?) -> Int32 {
        guard let value else { return -1 }
        if let known = codes[value] { return known }
        let new = Int32(codes.count)
        codes[value] = new
        return new
    }

    /// Adds or replaces the incident at `entry.rowid` (its title: nil when not read).
    func put(_ entry: Entry, id: String, fields: [Field], title: String?? = nil) {
        if let slot = slots[entry.rowid] {
            entries[slot] = entry
            ids[slot] = id
            text.set(slot: slot, fields: fields)
            titles[slot] = title
        } else {
            slots[entry.rowid] = entries.count
            text.set(slot: entries.count, fields: fields)
            entries.append(entry)
            ids.append(id)
            titles.append(title)
        }
    }

    /// The searched fields of an incident's visible fields, as `QueryIndexWriter.writeText`
    /// indexes them.
    static func fields(of visible: [String: JSONValue]) -> [Field] {
        var out: [Field] = []
        for name in IncidentFilter.searchedFields {
            guard let value = visible[name]?.stringValue, !value.isEmpty else { continue }
            let (text, raw, ascii) = QueryIndexWriter.searchText(value)
            out.append(Field(bytes: Array(text.utf8), ascii: ascii, raw: raw))
        }
        return out
    }
}
