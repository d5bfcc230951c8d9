import OutpostStore

/// What a token may read (issue 14): a reporter its team's records (a restricted one only when
/// it is the author), an analyst the records of its teams, an admin (or an analyst enrolled
/// without `--team`) every record.
public enum AccessScope: Hashable, Sendable {
    /// A reporter in `team`.
    case reporter(name: String, team: String)
    /// An analyst of these teams.
    case teams(Set<String>)
    /// Every team.
    case allTeams

    /// Whether a record with this access row (nil: the server has none yet) may be read. A
    /// record without a row is readable only with every team (fail closed).
    public func mayRead(_ access: ServerRecordAccess?) -> Bool {
        switch self {
        case .allTeams:
            return true
        case .teams(let teams):
            guard let access else { return false }
            return teams.contains(access.team)
        case .reporter(let name, let team):
            guard let access else { return false }
            return access.team == team && (!access.restricted || access.author == name)
        }
    }

    /// Whether records of `team` are among those this scope reads (a restricted one aside).
    public func covers(team: String) -> Bool {
        switch self {
        case .allTeams: return true
        case .teams(let teams): return teams.contains(team)
        case .reporter(_, let own): return own == team
        }
    }

    /// The teams it reads, nil for every team.
    public var teams: Set<String>? {
        switch self {
        case .allTeams: return nil
        case .teams(let teams): return teams
        case .reporter(_, let team): return [team]
        }
    }
}
