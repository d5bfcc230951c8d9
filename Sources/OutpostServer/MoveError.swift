/// Why an incident could not be moved to another team.
public enum MoveError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The team name breaks `TeamName.rule`.
    case badTeam(String)
    /// No such incident, or not one the mover may read (its existence is never confirmed).
    case notFound(String)
    /// The mover does not read the incident's team or the new team.
    case forbidden(String)

    public var description: String {
        switch self {
        case .badTeam(let message), .notFound(let message), .forbidden(let message): return message
        }
    }
}
