import OutpostCore
import OutpostStore
import OutpostSync

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

    /// Wraps a sync-server failure, one exit code per kind.
    public init(_ error: ServerLinkError) {
        let code: OutpostExitCode
        switch error.kind {
        case .unreachable: code = .serverUnreachable
        case .unauthorized: code = .tokenRejected
        case .forbidden: code = .forbidden
        case .rejected, .serverError, .invalidResponse: code = .serverError
        case .pinMismatch: code = .pinMismatch
        }
        self.init(code, error.message)
    }

    public var description: String { message }

    /// Any error as a CLI error.
    public static func from(_ error: any Error) -> CLIError {
        switch error {
        case let e as CLIError: return e
        case let e as StoreError: return CLIError(e)
        case let e as ValidationError: return CLIError(e)
        case let e as ServerLinkError: return CLIError(e)
        case let e as BundleError: return CLIError(.invalidInput, e.message)
        case let e as ServerSyncStalled: return CLIError(.noProgress, e.description)
        case let e as ServerSyncNoProgress: return CLIError(.noProgress, e.description)
        default: return CLIError(.failure, String(describing: error))
        }
    }
}
