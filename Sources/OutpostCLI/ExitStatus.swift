import OutpostStore

/// The exit codes of `outpost`, one per kind of failure, so scripts can branch on them.
///
/// | code | meaning |
/// |------|---------|
/// | 0 | success |
/// | 1 | any other failure |
/// | 2 | usage error: unknown flag, missing argument, conflicting options |
/// | 3 | no store at the path (run `outpost init`) |
/// | 4 | the store is locked by another process (after a 5 s wait) |
/// | 5 | unknown incident id |
/// | 6 | invalid value or input: a field's rule, an unreadable or malformed import file |
/// | 7 | invalid state: e.g. editing a deleted incident, restoring one that is not deleted |
/// | 8 | storage error: SQLite or the file system failed, or the store is from a newer Outpost |
/// | 9 | already exists: `init` on an existing store, `import` of an id the store holds |
/// | 10 | sync: the server is unreachable (after retries) |
/// | 11 | sync: the server rejected the token (missing, wrong or revoked) |
/// | 12 | sync: the server refused this device (e.g. changes of another replica) |
/// | 13 | sync: the server failed or answered something unreadable or too large |
/// | 14 | sync: the server made no progress (acknowledged nothing new and its position did not move) |
/// | 15 | the store is locked by its passphrase (run `outpost unlock`, or set `$OUTPOST_PASSPHRASE_FILE`) |
/// | 16 | sync: the server's TLS key does not match the pinned key |
public enum OutpostExitCode: Int32, Sendable, CaseIterable {
    /// Success.
    case success = 0
    /// Any failure without a more precise code.
    case failure = 1
    /// Bad command line.
    case usage = 2
    /// No store at the path.
    case storeMissing = 3
    /// Another process holds the store's write lock.
    case storeLocked = 4
    /// No incident with that id.
    case unknownID = 5
    /// A value or input file broke a rule.
    case invalidInput = 6
    /// The operation does not fit the incident's state.
    case invalidState = 7
    /// SQLite or the file system failed.
    case storage = 8
    /// The store already exists.
    case alreadyExists = 9
    /// The sync server could not be reached.
    case serverUnreachable = 10
    /// The sync server rejected the token.
    case tokenRejected = 11
    /// The sync server refused this device's request.
    case forbidden = 12
    /// The sync server failed or its answer could not be read.
    case serverError = 13
    /// The sync server kept answering without progress, so the sync stopped instead of looping.
    case noProgress = 14
    /// The store is encrypted and its key is not at hand: no agent, no passphrase file, no terminal.
    case passphraseLocked = 15
    /// The sync server's TLS key is not the key pinned with `--pin`.
    case pinMismatch = 16

    /// The code for a store failure of `kind`.
    public init(_ kind: StoreError.Kind) {
        switch kind {
        case .missing: self = .storeMissing
        case .locked: self = .storeLocked
        case .unknownRecord: self = .unknownID
        case .invalidValue, .invalidChange, .reusedDot, .tooManyHeldBack, .refusedChange: self = .invalidInput
        case .invalidState: self = .invalidState
        case .schemaTooNew, .storage: self = .storage
        case .alreadyExists: self = .alreadyExists
        case .encrypted: self = .passphraseLocked
        }
    }

    /// The table printed in `outpost --help`.
    public static let helpText = """
        Exit codes:
          0  success
          1  other failure
          2  usage error (unknown flag, missing argument, conflicting options)
          3  no store at the path (run `outpost init --reporter NAME`)
          4  store locked by another process (after waiting 5 s)
          5  unknown incident id
          6  invalid value or input (a field's rule, a malformed import file)
          7  invalid state (e.g. editing a deleted incident)
          8  storage error (SQLite, file system, or a store from a newer Outpost)
          9  already exists (`init` on a store, `import` of an id it holds)
         10  sync: server unreachable (after retries)
         11  sync: token rejected (missing, wrong or revoked)
         12  sync: the server refused this device (e.g. another replica's changes)
         13  sync: server error, or an unreadable or too large answer
         14  sync: the server made no progress (stopped instead of looping)
         15  store locked by its passphrase (run `outpost unlock`)
         16  sync: the server's TLS key does not match the pinned key
        """
}
