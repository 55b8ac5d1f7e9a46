import Dispatch

/// At most `width` operations at once over every store that shares it: one per S3 region,
/// so the six locations of a region never have more requests in flight together than the
/// region's connection pool can carry (excess callers wait their turn instead of piling up
/// on the network).
public final class RequestLimit: Sendable {
    public let width: Int
    // A counting semaphore is exactly a limit on callers in flight; it holds no data.
    private let slots: DispatchSemaphore

    public init(width: Int) { self.width = max(1, width); slots = DispatchSemaphore(value: max(1, width)) }

    func run<T>(_ body: () throws -> T) rethrows -> T {
        slots.wait()
        defer { slots.signal() }
        return try body()
    }
}

/// A store whose operations wait for a slot of a shared `RequestLimit`.
public struct LimitedStore: ObjectStore {
    public let inner: any ObjectStore
    public let limit: RequestLimit

    public init(_ inner: any ObjectStore, limit: RequestLimit) { self.inner = inner; self.limit = limit }

    public var name: String { inner.name }
    public var capabilities: StoreCapabilities { inner.capabilities }

    public func put(_ key: String, _ bytes: [UInt8]) throws { try limit.run { try inner.put(key, bytes) } }
    public func get(_ key: String) throws -> [UInt8] { try limit.run { try inner.get(key) } }
    public func size(of key: String) throws -> Int? { try limit.run { try inner.size(of: key) } }
    public func list(prefix: String) throws -> [String] { try limit.run { try inner.list(prefix: prefix) } }
    public func delete(_ key: String) throws { try limit.run { try inner.delete(key) } }
    public func replace(_ key: String, _ bytes: [UInt8]) throws { try limit.run { try inner.replace(key, bytes) } }
    public func delete(many keys: [String]) throws { try limit.run { try inner.delete(many: keys) } }
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { try limit.run { try inner.holds(key, exactly: bytes) } }
    public func sync() throws { try limit.run { try inner.sync() } }
    public func prepare() throws { try limit.run { try inner.prepare() } }
}
