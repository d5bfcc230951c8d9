import OutpostCore
import OutpostStore

/// An analyst's edit of one incident from the web workspace (a review or a resolve): the
/// writes, and the record's version vector as the analyst saw it when the page was rendered.
public struct AnalystEdit: Sendable {
    /// The incident's id.
    public var id: String
    /// Field → value, already checked by the incident model.
    public var writes: [String: JSONValue]
    /// The version the analyst saw: the change's `deps`, so values they had not seen stay as
    /// siblings (a conflict) instead of being replaced.
    public var seen: VersionVector
    /// The analyst's enrolled name (their token's reporter).
    public var reporter: String
    /// What the analyst may read.
    public var scope: AccessScope
    /// The analyst's token (`server_tokens.id`), recorded as the change's deliverer.
    public var tokenID: Int64

    /// Makes an edit.
    public init(
        id: String, writes: [String: JSONValue], seen: VersionVector, reporter: String, scope: AccessScope, tokenID: Int64
    ) {
        self.id = id
        self.writes = writes
        self.seen = seen
        self.reporter = reporter
        self.scope = scope
        self.tokenID = tokenID
    }

    /// The team an analyst replica's roster entry names: the analyst's first team by name, or
    /// `default` for an admin (every team) or an analyst without teams. It only labels the
    /// replica in the roster; what anyone may read follows each record's creator.
    public var rosterTeam: String {
        if case .teams(let teams) = scope, let first = teams.min() { return first }
        return TeamName.defaultTeam
    }

    /// Why an edit was refused.
    public enum Refusal: Error, Hashable, Sendable {
        /// No such incident, or not one the analyst may read.
        case notFound
        /// The seen version names changes this server does not hold.
        case unknownVersion
    }
}
