import OutpostCore

/// Why a store operation failed, with a message that names the problem.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The closed set of failure kinds callers branch on.
    public enum Kind: Hashable, Sendable {
        /// No store at the path.
        case missing
        /// `init` on a store that exists, or an incident id already taken.
        case alreadyExists
        /// Another process holds the store past the busy timeout.
        case locked
        /// No incident with that id.
        case unknownRecord
        /// A field value broke the model's rules.
        case invalidValue
        /// The operation does not fit the record's state (e.g. editing a deleted incident).
        case invalidState
        /// A change received from elsewhere is malformed.
        case invalidChange
        /// Written by a newer Outpost.
        case schemaTooNew
        /// SQLite or the file system failed.
        case storage
    }

    /// The kind of failure.
    public var kind: Kind
    /// What went wrong, in words.
    public var message: String

    /// Makes an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Maps any error thrown inside the store to a `StoreError`.
    static func wrap(_ error: any Error) -> StoreError {
        switch error {
        case let e as StoreError: return e
        case let e as ValidationError: return StoreError(.invalidValue, e.description)
        case let e as ChangeFormatError: return StoreError(.invalidChange, e.message)
        case let e as SchemaTooNewError: return StoreError(.schemaTooNew, e.description)
        case let e as SQLiteError where e.isBusy:
            return StoreError(.locked, "the store is locked by another Outpost process; try again when it has finished")
        case let e as SQLiteError: return StoreError(.storage, "storage error: \(e.description)")
        default: return StoreError(.storage, "storage error: \(error)")
        }
    }
}
