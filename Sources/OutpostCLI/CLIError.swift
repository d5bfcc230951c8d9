import OutpostCore
import OutpostStore

/// A failure the CLI reports on stderr as `outpost: error: <message>` and exits with `code`.
public struct CLIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The exit code.
    public var code: OutpostExitCode
    /// What went wrong, naming the problem.
    public var message: String

    /// Makes an error.
    public init(_ code: OutpostExitCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Wraps a store failure, keeping its message and mapping its kind to an exit code.
    public init(_ error: StoreError) {
        self.init(OutpostExitCode(error.kind), error.message)
    }

    /// Wraps a field validation failure (exit 6).
    public init(_ error: ValidationError) {
        self.init(.invalidInput, error.description)
    }

    public var description: String { message }

    /// Any error as a CLI error.
    public static func from(_ error: any Error) -> CLIError {
        switch error {
        case let e as CLIError: return e
        case let e as StoreError: return CLIError(e)
        case let e as ValidationError: return CLIError(e)
        default: return CLIError(.failure, String(describing: error))
        }
    }
}
