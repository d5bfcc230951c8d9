import OutpostCore

/// A change of who may read a record, as the server tells a device at sync (issue 14): the
/// record was moved to another team, or its `sensitivity` became or stopped being `restricted`.
///
/// Wire form: `{"collection": c, "incident": id, "team": name, "restricted": bool, "readable": bool}`
/// (`collection` absent for incidents).
public struct AccessNotice: Hashable, Sendable {
    /// The record.
    public var record: RecordKey
    /// The team it belongs to now.
    public var team: String
    /// Whether it is restricted (only its author and analysts of its team read it).
    public var restricted: Bool
    /// Whether the device the notice is for may read it now: when not, the device forgets its
    /// copy (row, log and conflict siblings); when it may, the record's changes come with the notice.
    public var readable: Bool

    /// Makes a notice.
    public init(record: RecordKey, team: String, restricted: Bool, readable: Bool) {
        self.record = record
        self.team = team
        self.restricted = restricted
        self.readable = readable
    }

    /// The notice as wire JSON.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "incident": .string(record.id), "team": .string(team), "restricted": .bool(restricted),
            "readable": .bool(readable),
        ]
        if record.collection != RecordKey.incidents { members["collection"] = .string(record.collection) }
        return .object(members)
    }

    /// Reads a notice, checking every key; errors name the problem.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("an access notice must be a JSON object") }
        for k in o.keys where !["collection", "incident", "team", "restricted", "readable"].contains(k) {
            throw ChangeFormatError("unknown key \"\(k)\" in access notice")
        }
        var collection = RecordKey.incidents
        switch o["collection"] {
        case .string(let c)? where !c.isEmpty && c.utf8.count <= 64: collection = c
        case nil, .null?: break
        default: throw ChangeFormatError("access notice: collection must be a short non-empty string")
        }
        guard case .string(let id)? = o["incident"], RecordKey.isValidID(id) else {
            throw ChangeFormatError("access notice: incident must be a record id")
        }
        guard case .string(let team)? = o["team"], TeamName.isValid(team) else {
            throw ChangeFormatError("access notice \(id): team: \(TeamName.rule)")
        }
        guard case .bool(let restricted)? = o["restricted"] else {
            throw ChangeFormatError("access notice \(id): restricted must be a boolean")
        }
        guard case .bool(let readable)? = o["readable"] else {
            throw ChangeFormatError("access notice \(id): readable must be a boolean")
        }
        self.init(record: RecordKey(collection: collection, id: id), team: team, restricted: restricted, readable: readable)
    }
}
