import OutpostCore

/// The rule that a location is both coordinates or neither: `lat` without `lon` (or the
/// reverse) would be stored as a place with no point, so it is refused where values come in.
enum CoordinatePair {
    /// The coordinate given and the one missing, when `fields` (an incident's values; null or
    /// absent for none) hold exactly one of `lat` and `lon`; nil when they hold both or neither.
    static func unpaired(_ fields: [String: JSONValue]) -> (given: String, missing: String)? {
        let hasLat = fields["lat"].map { $0 != .null } ?? false
        let hasLon = fields["lon"].map { $0 != .null } ?? false
        if hasLat == hasLon { return nil }
        return hasLat ? ("lat", "lon") : ("lon", "lat")
    }

    /// The problem of an import row holding one coordinate only, as
    /// `lon: is required with lat (a location is both or neither)`.
    static func problem(_ pair: (given: String, missing: String)) -> String {
        "\(pair.missing): is required with \(pair.given) (a location is both or neither)"
    }
}
