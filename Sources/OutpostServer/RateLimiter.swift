import Foundation

/// Token buckets by key (a client address, a token): each holds up to `burst` tokens and
/// regains `perSecond` of them per second; an empty bucket says how long to wait.
final class RateLimiter: @unchecked Sendable {
    // @unchecked Sendable: `buckets` is only read and written under `lock`; the rest is immutable.
    private struct Bucket {
        var tokens: Double
        var lastMs: Int64
    }

    /// Most keys tracked; past it, full buckets are forgotten (they carry no state) and, if that
    /// is not enough, the oldest half, so an address sweep cannot grow memory without bound.
    static let maxKeys = 50_000

    let burst: Double
    let perSecond: Double
    private let clock: @Sendable () -> Int64
    private let lock = NSLock()
    private var buckets: [String: Bucket] = [:]

    /// A limiter of `burst` requests at once and `perSecond` after, refilled by `clock` (ms).
    init(burst: Int, perSecond: Double, clock: @escaping @Sendable () -> Int64) {
        self.burst = Double(max(1, burst))
        self.perSecond = max(0, perSecond)
        self.clock = clock
    }

    /// Seconds to wait before `key` may go on (at least 1), or nil when its bucket is not empty.
    func retryAfter(_ key: String) -> Int? {
        lock.withLock {
            let bucket = refilled(key, now: clock())
            return bucket.tokens >= 1 ? nil : wait(bucket)
        }
    }

    /// Takes one token from `key`'s bucket; returns seconds to wait when it was empty (nothing taken).
    @discardableResult
    func take(_ key: String) -> Int? {
        lock.withLock {
            let now = clock()
            var bucket = refilled(key, now: now)
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return wait(bucket)
            }
            bucket.tokens -= 1
            if buckets[key] == nil && buckets.count >= RateLimiter.maxKeys { prune(now: now) }
            buckets[key] = bucket
            return nil
        }
    }

    /// Number of keys tracked (for tests).
    var trackedKeys: Int { lock.withLock { buckets.count } }

    private func refilled(_ key: String, now: Int64) -> Bucket {
        guard var bucket = buckets[key] else { return Bucket(tokens: burst, lastMs: now) }
        let elapsed = Double(max(0, now - bucket.lastMs)) / 1000
        bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
        bucket.lastMs = now
        return bucket
    }

    private func wait(_ bucket: Bucket) -> Int {
        guard perSecond > 0 else { return 3600 }
        return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up)))
    }

    private func prune(now: Int64) {
        buckets = buckets.filter { refilledTokens($0.value, now: now) < burst }
        if buckets.count >= RateLimiter.maxKeys {
            let oldest = buckets.sorted { $0.value.lastMs < $1.value.lastMs }.prefix(buckets.count / 2).map(\.key)
            for key in oldest { buckets[key] = nil }
        }
    }

    private func refilledTokens(_ bucket: Bucket, now: Int64) -> Double {
        bucket.tokens + Double(max(0, now - bucket.lastMs)) / 1000 * perSecond
    }
}
