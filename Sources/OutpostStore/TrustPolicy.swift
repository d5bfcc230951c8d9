import OutpostCore

/// How a store treats a received change that does not verify (`trust.md`, "Verifying").
public struct TrustPolicy: Hashable, Sendable {
    /// Refuse changes whose author the roster does not name (the server never stores an
    /// unverified change); a device keeps them as unverified instead.
    public var requireKnownAuthors: Bool
    /// Refuse changes of a revoked author that the store does not already hold.
    public var refuseRevokedAuthors: Bool
    /// One refused change refuses the whole batch (nothing of it is stored), instead of that
    /// change alone being left out.
    public var refuseWholeBatch: Bool

    /// Makes a policy.
    public init(requireKnownAuthors: Bool, refuseRevokedAuthors: Bool, refuseWholeBatch: Bool) {
        self.requireKnownAuthors = requireKnownAuthors
        self.refuseRevokedAuthors = refuseRevokedAuthors
        self.refuseWholeBatch = refuseWholeBatch
    }

    /// A reporter's device: a change that fails is left out and reported, one by an author not in
    /// the roster yet is kept as unverified.
    public static let device = TrustPolicy(requireKnownAuthors: false, refuseRevokedAuthors: false, refuseWholeBatch: false)

    /// The server: every change must verify against the roster, or the batch is refused.
    public static let server = TrustPolicy(requireKnownAuthors: true, refuseRevokedAuthors: true, refuseWholeBatch: true)
}

/// Why a received change was refused.
public enum RefusalReason: String, Hashable, Sendable {
    /// It carries no signature (only changes made before signatures do; they are not taken from outside).
    case unsigned = "unsigned_change"
    /// Its signature does not verify under its author's key.
    case badSignature = "bad_signature"
    /// It claims this store's own replica and does not verify under its own key.
    case forgedOwnChange = "forged_own_change"
    /// Its author is not in the roster (the server only).
    case unknownAuthor = "unknown_author"
    /// Its author is revoked and the store did not hold it (the server only).
    case revokedAuthor = "revoked_author"

    /// The reason in words.
    public var words: String {
        switch self {
        case .unsigned: return "it is not signed (unsigned changes are accepted only from stores made before signatures)"
        case .badSignature: return "its signature does not verify under its author's key: it was altered or forged"
        case .forgedOwnChange:
            return "it claims this device's own replica but is not signed by this device's key: it is forged"
        case .unknownAuthor: return "its author replica is not enrolled (not in the roster)"
        case .revokedAuthor: return "its author replica is revoked"
        }
    }
}

/// A received change that was not stored, and why.
public struct RefusedChange: Hashable, Sendable, CustomStringConvertible {
    /// Its dot.
    public var dot: Dot
    /// Its record.
    public var record: RecordKey
    /// Why.
    public var reason: RefusalReason

    /// Makes one.
    public init(dot: Dot, record: RecordKey, reason: RefusalReason) {
        self.dot = dot
        self.record = record
        self.reason = reason
    }

    public var description: String { "change \(dot) (incident \(record.id)) was refused: \(reason.words)" }
}
