import Dispatch

/// At most `width` operations at once over every store that shares it: one per S3 region,
/// so the six locations of a region never have more requests in flight together than the
/// region's connection pool can carry (excess callers wait their turn instead of piling up
/// on the network).
public final class RequestLimit: Sendable {
    /// Operations allowed in flight at once.
    public let width: Int
    // A counting semaphore is exactly a limit on callers in flight; it holds no data.
    private let slots: DispatchSemaphore

    /// A limit of `width` (at least 1).
    public init(width: Int) { self.width = max(1, width); slots = DispatchSemaphore(value: max(1, width)) }

    func run<T>(_ body: () throws -> T) rethrows -> T {
        slots.wait()
        defer { slots.signal() }
        return try body()
    }
}

/// A store whose operations wait for a slot of a shared `RequestLimit`.
public struct LimitedStore: ObjectStore {
    /// The store whose operations are limited.
    public let inner: any ObjectStore
    /// The limit, shared with the other stores of the region.
    public let limit: RequestLimit

    /// `inner`, its operations taking a slot of `limit`.
    public init(_ inner: any ObjectStore, limit: RequestLimit) { self.inner = inner; self.limit = limit }

    /// The inner store's name.
    public var name: String { inner.name }
    /// The inner store's capabilities.
    public var capabilities: StoreCapabilities { inner.capabilities }

    /// The inner store's `put`, in a slot of the limit.
    public func put(_ key: String, _ bytes: [UInt8]) throws { try limit.run { try inner.put(key, bytes) } }
    /// The inner store's `get`, in a slot of the limit.
    public func get(_ key: String, maximumSize: Int) throws -> [UInt8] { try limit.run { try inner.get(key, maximumSize: maximumSize) } }
    /// The inner store's `size(of:)`, in a slot of the limit.
    public func size(of key: String) throws -> Int? { try limit.run { try inner.size(of: key) } }
    /// The inner store's `list(prefix:)`, in a slot of the limit.
    public func list(prefix: String) throws -> [String] { try limit.run { try inner.list(prefix: prefix) } }
    /// The inner store's `delete`, in a slot of the limit.
    public func delete(_ key: String) throws { try limit.run { try inner.delete(key) } }
    /// The inner store's `replace`, in a slot of the limit.
    public func replace(_ key: String, _ bytes: [UInt8]) throws { try limit.run { try inner.replace(key, bytes) } }
    /// The inner store's `delete(many:)`, in a slot of the limit.
    public func delete(many keys: [String]) throws { try limit.run { try inner.delete(many: keys) } }
    /// The inner store's `holds(_:exactly:)`, in a slot of the limit.
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { try limit.run { try inner.holds(key, exactly: bytes) } }
    /// The inner store's `sync()`, in a slot of the limit.
    public func sync() throws { try limit.run { try inner.sync() } }
    /// The inner store's `prepare()`, in a slot of the limit.
    public func prepare() throws { try limit.run { try inner.prepare() } }
}
