import Foundation
import LeafConcurrency
import LeafStorage

/// An `ObjectStore` in memory: the contract without a disk, for tests of what is above
/// storage. It keeps the contract (the conformance suite runs it), so what passes on it
/// passes on the real stores.
public final class MemoryStore: ObjectStore, Sendable {
    public let name: String
    private let objects = Locked<[String: [UInt8]]>([:])

    public init(name: String) { self.name = name }

    public var capabilities: StoreCapabilities { StoreCapabilities(isRemote: false, atomicReplace: true, listingIsPaged: false) }

    public func put(_ key: String, _ bytes: [UInt8]) throws {
        try validate(key)
        try objects.withLock { (objects: inout [String: [UInt8]]) throws(StorageError) in
            guard objects[key] == nil else { throw StorageError.alreadyExists(location: name, key: key) }
            objects[key] = bytes
        }
    }

    public func get(_ key: String, maximumSize: Int) throws -> [UInt8] {
        try validate(key)
        guard let b = objects.withLock({ $0[key] }) else { throw StorageError.notFound(location: name, key: key) }
        guard b.count <= maximumSize else { throw objectTooLarge(location: name, key: key, size: b.count, maximum: maximumSize) }
        return b
    }

    public func size(of key: String) throws -> Int? { try validate(key); return objects.withLock { $0[key]?.count } }
    public func list(prefix: String) throws -> [String] { objects.withLock { $0.keys.filter { $0.hasPrefix(prefix) }.sorted() } }

    public func delete(_ key: String) throws {
        try validate(key)
        guard objects.withLock({ $0.removeValue(forKey: key) }) != nil else { throw StorageError.notFound(location: name, key: key) }
    }

    public func replace(_ key: String, _ bytes: [UInt8]) throws { try validate(key); objects.withLock { $0[key] = bytes } }

    public func delete(many keys: [String]) throws {
        for k in keys { try validate(k) }
        objects.withLock { for k in keys { $0.removeValue(forKey: k) } }
    }

    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { try validate(key); return objects.withLock { $0[key] == bytes } }
    public func sync() throws {}

    /// Every object, for a test to damage or inspect directly.
    public var contents: [String: [UInt8]] {
        get { objects.value }
        set { objects.set(newValue) }
    }
}

/// Wraps a store and injects faults by rule: fail the Nth call of an operation, corrupt or
/// truncate what a read returns, slow every call, or disappear altogether. What root-only
/// tmpfs and bind mounts did for the fault tests, without root.
public final class FaultyStore: ObjectStore, Sendable {
    public enum Operation: String, Sendable, CaseIterable { case put, get, size, list, delete, replace, deleteMany, holds, sync }
    public enum Fault: Sendable, Equatable {
        /// Calls number `n`, `n+every`, … (1-based) of `operation` throw `unavailable`.
        case fail(Operation, nth: Int, every: Int = 0)
        /// Those calls throw `transient` before reaching the store (throttling, a 503).
        case flaky(Operation, nth: Int, every: Int = 0)
        /// Those calls reach the store and do their work, then throw `transient`: the
        /// answer was lost on the way back (a connection reset after the write).
        case answerLost(Operation, nth: Int, every: Int = 0)
        /// Reads of names with this prefix return the bytes with one byte flipped.
        case corruptReads(prefix: String)
        /// Reads of names with this prefix return the first half of the bytes.
        case truncateReads(prefix: String)
        /// Every call waits this long first.
        case slow(seconds: Double)
        /// Every call throws `unavailable`, as a location that is gone.
        case disappeared
    }

    public let inner: any ObjectStore
    private let faultList: Locked<[Fault]>
    private let calls = Locked<[Operation: Int]>([:])

    public init(_ inner: any ObjectStore, faults: [Fault] = []) { self.inner = inner; self.faultList = Locked(faults) }

    public var name: String { inner.name }
    public var capabilities: StoreCapabilities { inner.capabilities }
    public var faults: [Fault] {
        get { faultList.value }
        set { faultList.set(newValue) }
    }
    /// How many times each operation was called.
    public func count(_ op: Operation) -> Int { calls.withLock { $0[op] ?? 0 } }

    /// Counts the call and applies the faults that act before it; returns whether the
    /// call's answer is to be lost after it ran.
    private func enter(_ op: Operation) throws -> Bool {
        let n = calls.withLock {
            $0[op, default: 0] += 1; return $0[op] ?? 0
        }
        func hits(_ nth: Int, _ every: Int) -> Bool { n == nth || (every > 0 && n > nth && (n - nth) % every == 0) }
        var loseAnswer = false
        for f in faults {
            switch f {
            case .disappeared: throw StorageError.unavailable(location: name, reason: "injected: the location is gone")
            case .slow(let s): usleep(UInt32(s * 1_000_000))
            case .fail(let o, let nth, let every) where o == op && hits(nth, every):
                throw StorageError.unavailable(location: name, reason: "injected: \(op.rawValue) call \(n) failed")
            case .flaky(let o, let nth, let every) where o == op && hits(nth, every):
                throw StorageError.transient(location: name, key: "", reason: "injected: \(op.rawValue) call \(n) throttled")
            case .answerLost(let o, let nth, let every) where o == op && hits(nth, every):
                loseAnswer = true
            default: break
            }
        }
        return loseAnswer
    }

    /// Runs the call on the inner store; a lost answer becomes `transient` after it ran.
    private func call<T>(_ op: Operation, _ body: () throws -> T) throws -> T {
        let loseAnswer = try enter(op)
        let result = try body()
        if loseAnswer { throw StorageError.transient(location: name, key: "", reason: "injected: the answer to \(op.rawValue) was lost") }
        return result
    }

    private func damaged(_ key: String, _ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        for f in faults {
            switch f {
            case .corruptReads(let p) where key.hasPrefix(p) && !out.isEmpty: out[out.count / 2] ^= 0x5a
            case .truncateReads(let p) where key.hasPrefix(p): out = Array(out.prefix(out.count / 2))
            default: break
            }
        }
        return out
    }

    public func put(_ key: String, _ bytes: [UInt8]) throws { try call(.put) { try inner.put(key, bytes) } }
    public func get(_ key: String, maximumSize: Int) throws -> [UInt8] {
        try call(.get) { damaged(key, try inner.get(key, maximumSize: maximumSize)) }
    }
    public func size(of key: String) throws -> Int? { try call(.size) { try inner.size(of: key) } }
    public func list(prefix: String) throws -> [String] { try call(.list) { try inner.list(prefix: prefix) } }
    public func delete(_ key: String) throws { try call(.delete) { try inner.delete(key) } }
    public func replace(_ key: String, _ bytes: [UInt8]) throws { try call(.replace) { try inner.replace(key, bytes) } }
    public func delete(many keys: [String]) throws { try call(.deleteMany) { try inner.delete(many: keys) } }
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool {
        try call(.holds) {
            // Through this store's own get, and so through the faults of reads.
            do { return try get(key) == bytes } catch StorageError.notFound { return false }
        }
    }
    public func sync() throws { try call(.sync) { try inner.sync() } }
    public func prepare() throws { try inner.prepare() }
}
