/// The version `outpost --version` prints.
///
/// Kept in the CLI for now; it is meant to become the one `outpostVersion` of OutpostCore shared
/// with `outpost-server --version`.
public enum OutpostCLIVersion {
    /// The version text, e.g. `0.11.0`.
    public static let text = "0.11.0"
}
