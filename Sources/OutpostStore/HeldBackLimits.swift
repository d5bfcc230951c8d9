/// How much one author replica may keep held back in a store: changes whose deps are not met
/// yet. Past either bound a batch is refused (`StoreError.Kind.tooManyHeldBack`), so one author
/// cannot fill a store (or a server) with changes that wait for something that never comes.
public struct HeldBackLimits: Hashable, Sendable {
    /// Most held-back changes of one author.
    public var changesPerAuthor: Int
    /// Most dependencies, summed over one author's held-back changes, that the store still lacks.
    public var missingDepsPerAuthor: Int

    /// Makes limits.
    public init(changesPerAuthor: Int, missingDepsPerAuthor: Int) {
        self.changesPerAuthor = changesPerAuthor
        self.missingDepsPerAuthor = missingDepsPerAuthor
    }

    /// 10,000 held changes and 100,000 missing dependencies per author.
    public static let standard = HeldBackLimits(changesPerAuthor: 10_000, missingDepsPerAuthor: 100_000)

    /// No bound: for rebuilding records from changes the store already holds.
    static let unlimited = HeldBackLimits(changesPerAuthor: Int.max, missingDepsPerAuthor: Int.max)
}

/// What one author keeps held back in a store.
struct HeldBackCount: Hashable, Sendable {
    /// Held-back changes.
    var changes = 0
    /// Dependencies of those changes the store still lacks.
    var missingDeps = 0
}
