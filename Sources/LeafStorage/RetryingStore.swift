import Foundation
import LeafConcurrency

/// How often and how patiently a failure that may pass is retried: exponential backoff with
/// full jitter (a random wait up to base × 2^(attempt−1), capped), as AWS recommends for
/// throttling, which comes in bursts.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (at least 1).
    public let attempts: Int
    /// The first wait's ceiling; each retry doubles it.
    public let base: TimeInterval
    /// No wait's ceiling exceeds this.
    public let cap: TimeInterval
    /// How a wait is spent; tests pass one that records instead of sleeping.
    public let sleep: @Sendable (TimeInterval) -> Void

    /// A policy of `attempts`, `base` and `cap`; `sleep` spends each wait.
    public init(
        attempts: Int = 8, base: TimeInterval = 0.1, cap: TimeInterval = 4.0,
        sleep: @escaping @Sendable (TimeInterval) -> Void = { usleep(UInt32(max(0, $0) * 1_000_000)) }
    ) {
        self.attempts = max(1, attempts); self.base = base; self.cap = cap; self.sleep = sleep
    }

    /// Eight attempts wait up to about 13 s in all before giving up.
    public static let standard = RetryPolicy()

    /// The longest wait before attempt `attempt + 1`.
    public func ceiling(after attempt: Int) -> TimeInterval { min(cap, base * pow(2, Double(attempt - 1))) }
}

/// Shared by the stores of one region (one server): once a call of any of them has spent
/// every attempt on transient failures, the server is taken to be down for `holdOff`
/// seconds, and each call of the stores sharing it makes one attempt instead of waiting out
/// a backoff of its own. A region whose server is gone then costs one round of retries,
/// not one per object and location: a restore from the surviving region waited 61 s on the
/// dead one's six config copies and audit objects before. The first call that succeeds
/// closes it again.
public final class CircuitBreaker: Sendable {
    /// How long a tripped breaker stays open, in seconds.
    public let holdOff: TimeInterval
    /// Seconds of a monotonic clock (elapsed time, not the time of day: nothing here is
    /// recorded, and a clock set back must not keep a breaker open).
    private let uptime: @Sendable () -> TimeInterval
    private let openUntil = Locked<TimeInterval?>(nil)

    /// A closed breaker that stays open `holdOff` seconds once tripped; `uptime` is for tests.
    public init(holdOff: TimeInterval = 60, uptime: @escaping @Sendable () -> TimeInterval = { ProcessInfo.processInfo.systemUptime }) {
        self.holdOff = holdOff; self.uptime = uptime
    }

    /// Whether calls make one attempt only.
    public var isOpen: Bool { openUntil.withLock { $0.map { uptime() < $0 } ?? false } }

    func trip() { openUntil.withLock { $0 = uptime() + holdOff } }
    func close() { openUntil.withLock { $0 = nil } }
}

/// Retries, with backoff and jitter, every operation of the store it wraps that fails with
/// `StorageError.transient`; any other error is final at once. After the last attempt the
/// location is reported `unavailable`, with the last failure and the number of attempts.
///
/// Two answers change meaning once an earlier attempt of the same call may have reached the
/// store: a put that then finds the object already there with exactly its bytes has
/// succeeded (its own write landed, the answer was lost), and a delete that then finds the
/// object gone has too. Every other operation is idempotent and simply repeated.
public struct RetryingStore: ObjectStore {
    /// The store whose transient failures are retried.
    public let inner: any ObjectStore
    /// How often and how patiently.
    public let policy: RetryPolicy
    /// Shared with the other stores of the region, if any: see `CircuitBreaker`.
    public let breaker: CircuitBreaker?

    /// `inner`, its transient failures retried under `policy`, and under `breaker` when given.
    public init(_ inner: any ObjectStore, policy: RetryPolicy = .standard, breaker: CircuitBreaker? = nil) {
        self.inner = inner; self.policy = policy; self.breaker = breaker
    }

    /// The inner store's name.
    public var name: String { inner.name }
    /// The inner store's capabilities.
    public var capabilities: StoreCapabilities { inner.capabilities }

    /// Runs `body` until it succeeds, fails for good, or the attempts are spent; `body` is
    /// told whether an earlier attempt failed transiently.
    private func retrying<T>(_ body: (_ retried: Bool) throws -> T) throws -> T {
        var attempt = 1
        let open = breaker?.isOpen ?? false
        while true {
            do {
                let result = try body(attempt > 1)
                if open { breaker?.close() }
                return result
            } catch let e as StorageError {
                guard case .transient(let location, _, let reason) = e else { throw e }
                if open {
                    throw StorageError.unavailable(
                        location: location, reason: "\(reason) (one attempt: the region's server failed every attempt of an earlier request)")
                }
                guard attempt < policy.attempts else {
                    breaker?.trip()
                    throw StorageError.unavailable(location: location, reason: "\(reason) (after \(attempt) attempts)")
                }
                policy.sleep(Double.random(in: 0...policy.ceiling(after: attempt)))
                attempt += 1
            }
        }
    }

    /// The inner put, retried; finding exactly its bytes after a failed attempt is success.
    public func put(_ key: String, _ bytes: [UInt8]) throws {
        try retrying { retried in
            do { try inner.put(key, bytes) } catch StorageError.alreadyExists(let l, let k) where retried {
                guard try inner.holds(key, exactly: bytes) else { throw StorageError.alreadyExists(location: l, key: k) }
            }
        }
    }

    /// The inner delete, retried; finding the object gone after a failed attempt is success.
    public func delete(_ key: String) throws {
        try retrying { retried in
            do { try inner.delete(key) } catch StorageError.notFound where retried {}
        }
    }

    /// The inner store's `get`, retried while it fails transiently.
    public func get(_ key: String, maximumSize: Int) throws -> [UInt8] { try retrying { _ in try inner.get(key, maximumSize: maximumSize) } }
    /// The inner store's `size(of:)`, retried while it fails transiently.
    public func size(of key: String) throws -> Int? { try retrying { _ in try inner.size(of: key) } }
    /// The inner store's `list(prefix:)`, retried while it fails transiently.
    public func list(prefix: String) throws -> [String] { try retrying { _ in try inner.list(prefix: prefix) } }
    /// The inner store's `replace`, retried while it fails transiently.
    public func replace(_ key: String, _ bytes: [UInt8]) throws { try retrying { _ in try inner.replace(key, bytes) } }
    /// The inner store's `delete(many:)`, retried while it fails transiently.
    public func delete(many keys: [String]) throws { try retrying { _ in try inner.delete(many: keys) } }
    /// The inner store's `holds(_:exactly:)`, retried while it fails transiently.
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { try retrying { _ in try inner.holds(key, exactly: bytes) } }
    /// The inner store's `sync()`, retried while it fails transiently.
    public func sync() throws { try retrying { _ in try inner.sync() } }
    /// The inner store's `prepare()`, retried while it fails transiently.
    public func prepare() throws { try retrying { _ in try inner.prepare() } }
}
