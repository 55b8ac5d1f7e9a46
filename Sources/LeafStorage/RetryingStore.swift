import Foundation

/// How often and how patiently a failure that may pass is retried: exponential backoff with
/// full jitter (a random wait up to base × 2^(attempt−1), capped), as AWS recommends for
/// throttling, which comes in bursts.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (at least 1).
    public let attempts: Int
    public let base: TimeInterval
    public let cap: TimeInterval
    /// How a wait is spent; tests pass one that records instead of sleeping.
    public let sleep: @Sendable (TimeInterval) -> Void

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

/// Retries, with backoff and jitter, every operation of the store it wraps that fails with
/// `StorageError.transient`; any other error is final at once. After the last attempt the
/// location is reported `unavailable`, with the last failure and the number of attempts.
///
/// Two answers change meaning once an earlier attempt of the same call may have reached the
/// store: a put that then finds the object already there with exactly its bytes has
/// succeeded (its own write landed, the answer was lost), and a delete that then finds the
/// object gone has too. Every other operation is idempotent and simply repeated.
public struct RetryingStore: ObjectStore {
    public let inner: any ObjectStore
    public let policy: RetryPolicy

    public init(_ inner: any ObjectStore, policy: RetryPolicy = .standard) { self.inner = inner; self.policy = policy }

    public var name: String { inner.name }
    public var capabilities: StoreCapabilities { inner.capabilities }

    /// Runs `body` until it succeeds, fails for good, or the attempts are spent; `body` is
    /// told whether an earlier attempt failed transiently.
    private func retrying<T>(_ body: (_ retried: Bool) throws -> T) throws -> T {
        var attempt = 1
        while true {
            do { return try body(attempt > 1) } catch let e as StorageError {
                guard case .transient(let location, _, let reason) = e else { throw e }
                guard attempt < policy.attempts else {
                    throw StorageError.unavailable(location: location, reason: "\(reason) (after \(attempt) attempts)")
                }
                policy.sleep(Double.random(in: 0...policy.ceiling(after: attempt)))
                attempt += 1
            }
        }
    }

    public func put(_ key: String, _ bytes: [UInt8]) throws {
        try retrying { retried in
            do { try inner.put(key, bytes) } catch StorageError.alreadyExists(let l, let k) where retried {
                guard try inner.holds(key, exactly: bytes) else { throw StorageError.alreadyExists(location: l, key: k) }
            }
        }
    }

    public func delete(_ key: String) throws {
        try retrying { retried in
            do { try inner.delete(key) } catch StorageError.notFound where retried {}
        }
    }

    public func get(_ key: String) throws -> [UInt8] { try retrying { _ in try inner.get(key) } }
    public func size(of key: String) throws -> Int? { try retrying { _ in try inner.size(of: key) } }
    public func list(prefix: String) throws -> [String] { try retrying { _ in try inner.list(prefix: prefix) } }
    public func replace(_ key: String, _ bytes: [UInt8]) throws { try retrying { _ in try inner.replace(key, bytes) } }
    public func delete(many keys: [String]) throws { try retrying { _ in try inner.delete(many: keys) } }
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { try retrying { _ in try inner.holds(key, exactly: bytes) } }
    public func sync() throws { try retrying { _ in try inner.sync() } }
    public func prepare() throws { try retrying { _ in try inner.prepare() } }
}
