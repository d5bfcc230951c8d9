/// Team names: who reads whose work (issue 14). Every reporter belongs to one team.
public enum TeamName {
    /// The team of a reporter enrolled without one, and of a roster entry signed before teams.
    public static let defaultTeam = "default"

    /// What a team name must be, for error messages.
    public static let rule =
        "a team name must be 1–64 characters: letters, digits, spaces and . _ - (not starting or ending with a space)"

    /// Whether `name` follows `rule`.
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 64, name.utf8.count <= 256, name.first != " ", name.last != " " else {
            return false
        }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal || scalar == " " || scalar == "."
                || scalar == "_" || scalar == "-"
        }
    }
}
