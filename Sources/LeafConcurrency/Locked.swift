import Synchronization

/// State that several threads share, behind one mutex: leafguard's only lock type.
///
/// leafguard's concurrency model (docs/architecture.md): commands and steps are
/// synchronous; parallel work goes through `BoundedWork` or `parallelForEach`, and what the
/// workers share lives in a `Locked`. A class whose mutable state is all in `Locked`
/// members is `Sendable` without `@unchecked`.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    /// Shares `value` behind the lock.
    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with the value, holding the lock; keep it short and never block in it.
    public func withLock<Result: Sendable, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in try body(&value) }
    }

    /// A copy of the value.
    public var value: Value { withLock { $0 } }

    /// Replaces the value.
    public func set(_ newValue: Value) { withLock { $0 = newValue } }
}
