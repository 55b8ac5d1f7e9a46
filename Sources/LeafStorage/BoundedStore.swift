/// A location whose reads are bounded by what each name can hold: `maximumSize(name)`
/// gives the largest object of that name's kind, or nil for a name the repository never
/// writes, which is then not read at all. Whoever owns one location can plant objects of
/// any size under any name; a planted 2 GiB sparse file at a shard's name made a
/// replication allocate 16.8 GB. Every other operation is the inner store's.
public struct BoundedStore: ObjectStore {
    /// The store whose reads are bounded.
    public let inner: any ObjectStore
    /// The largest object a name can hold; nil for a name that is not the repository's.
    public let maximumSize: @Sendable (String) -> Int?

    /// `inner`, each read bounded by `maximumSize` of its name.
    public init(_ inner: any ObjectStore, maximumSize: @escaping @Sendable (String) -> Int?) {
        self.inner = inner
        self.maximumSize = maximumSize
    }

    /// The inner store's name.
    public var name: String { inner.name }
    /// The inner store's capabilities.
    public var capabilities: StoreCapabilities { inner.capabilities }

    /// The inner store's `get`, within the bound of the name's kind; a name that is none of
    /// the repository's is refused unread.
    public func get(_ key: String, maximumSize most: Int) throws -> [UInt8] {
        guard let bound = maximumSize(key) else {
            throw StorageError.io(location: name, key: key, reason: "is not a name leafguard writes; not read")
        }
        return try inner.get(key, maximumSize: min(most, bound))
    }
    /// The inner store's `put`.
    public func put(_ key: String, _ bytes: [UInt8]) throws { try inner.put(key, bytes) }
    /// The inner store's `size(of:)`.
    public func size(of key: String) throws -> Int? { try inner.size(of: key) }
    /// The inner store's `list(prefix:)`.
    public func list(prefix: String) throws -> [String] { try inner.list(prefix: prefix) }
    /// The inner store's `delete`.
    public func delete(_ key: String) throws { try inner.delete(key) }
    /// The inner store's `replace`.
    public func replace(_ key: String, _ bytes: [UInt8]) throws { try inner.replace(key, bytes) }
    /// The inner store's `delete(many:)`.
    public func delete(many keys: [String]) throws { try inner.delete(many: keys) }
    /// The inner store's `holds(_:exactly:)`.
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { try inner.holds(key, exactly: bytes) }
    /// The inner store's `sync()`.
    public func sync() throws { try inner.sync() }
    /// The inner store's `prepare()`.
    public func prepare() throws { try inner.prepare() }
}
