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
        /// A change reuses a dot the store holds for another change (another record or content).
        case reusedDot
        /// A change would take its author past what one author may keep held back.
        case tooManyHeldBack
        /// A received change failed verification (`RefusalReason`) and the policy refuses the batch.
        case refusedChange
        /// Written by a newer Outpost.
        case schemaTooNew
        /// SQLite or the file system failed.
        case storage
        /// The store is encrypted and no key, or the wrong key, was given to open it.
        case encrypted
    }

    /// The kind of failure.
    public var kind: Kind
    /// What went wrong, in words.
    public var message: String
    /// The refused change and why, for `.refusedChange`.
    public var refusal: RefusedChange?

    /// Makes an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// A change whose dot names another change the store holds.
    static func reusedDot(_ dot: Dot, storedRecord: RecordKey, otherRecord: RecordKey?) -> StoreError {
        let difference =
            otherRecord.map { "for record \(storedRecord), not \($0)" }
            ?? "for the same record \(storedRecord) with other content"
        return StoreError(
            .reusedDot,
            "reused dot: change \(dot) differs from the change \(dot) this store already holds (\(difference)); a dot names one change, so nothing of this batch was stored"
        )
    }

    /// A change that failed verification, refusing its whole batch.
    static func refused(_ refused: RefusedChange) -> StoreError {
        var error = StoreError(.refusedChange, "\(refused); nothing of this batch was stored")
        error.refusal = refused
        return error
    }

    /// A change that takes its author past the held-back bound.
    static func tooManyHeldBack(_ dot: Dot, held: HeldBackCount, limits: HeldBackLimits) -> StoreError {
        StoreError(
            .tooManyHeldBack,
            "too many held-back changes: change \(dot) would leave replica \(dot.replica.hex) with \(held.changes) changes held back, missing \(held.missingDeps) changes they depend on (at most \(limits.changesPerAuthor) changes and \(limits.missingDepsPerAuthor) missing dependencies per author); send the changes they depend on first; nothing of this batch was stored"
        )
    }

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
