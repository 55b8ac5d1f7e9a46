import Foundation

/// Why a storage operation failed, naming the location and object.
public enum StorageError: Error, Equatable, CustomStringConvertible, Sendable {
    case notFound(location: String, key: String)
    case alreadyExists(location: String, key: String)
    case unavailable(location: String, reason: String)
    /// The location itself is not there: its folder or bucket does not exist (never
    /// created, or gone). A repository whose every location is so was never made here.
    case missingLocation(location: String, reason: String)
    case io(location: String, key: String, reason: String)
    /// A failure that may pass if the call is made again: throttling, a server error, a
    /// dropped connection. RetryingStore retries these; past its last attempt it reports the
    /// location `unavailable`.
    case transient(location: String, key: String, reason: String)
    case invalidKey(String)

    /// Location, object and what went wrong, in words for an operator.
    public var description: String {
        switch self {
        case .notFound(let l, let k): return "\(l): \(k) does not exist"
        case .alreadyExists(let l, let k): return "\(l): \(k) already exists and is never overwritten"
        case .unavailable(let l, let r), .missingLocation(let l, let r): return "\(l) is unavailable: \(r)"
        case .io(let l, let k, let r): return "\(l): \(k): \(r)"
        case .transient(let l, let k, let r): return "\(l): \(k): \(r)"
        case .invalidKey(let k): return "invalid object name '\(k)'"
        }
    }

    /// Whether the object is simply not there.
    public var isNotFound: Bool { if case .notFound = self { return true }; return false }
    /// Whether the failure may pass if the call is made again.
    public var isTransient: Bool { if case .transient = self { return true }; return false }
    /// The object is not there, or its whole location is not: nothing to read either way.
    public var isAbsent: Bool {
        switch self {
        case .notFound, .missingLocation: return true
        default: return false
        }
    }
}

/// One storage location: a flat namespace of immutable objects.
///
/// Contract, which every backend's conformance test checks:
/// - `put` never replaces an existing object (it throws `alreadyExists`), and returns only
///   once the object is durable; a reader never sees a partial object.
/// - `get` returns exactly the bytes put, or throws `notFound`; an object larger than the
///   `maximumSize` asked for is refused (`io`) before it is held in memory.
/// - `list(prefix:)` returns every name starting with the prefix, sorted, no temporaries.
/// - `delete` of a missing object throws `notFound`.
/// - `replace` swaps an object's bytes atomically (the only way an object changes).
public protocol ObjectStore: Sendable {
    /// A name for messages, e.g. `primary/2`.
    var name: String { get }
    func put(_ key: String, _ bytes: [UInt8]) throws
    /// The object's bytes, refused (`io`) without reading them whole when it holds more than
    /// `maximumSize`: whoever owns one location can plant an object of any size.
    func get(_ key: String, maximumSize: Int) throws -> [UInt8]
    /// The object's size, or nil when it does not exist.
    func size(of key: String) throws -> Int?
    func list(prefix: String) throws -> [String]
    func delete(_ key: String) throws
    /// Replaces an object in one step: a reader sees the old bytes or the new, never neither
    /// nor a mix. Replacements become durable together at the next `sync()`, so a crash
    /// before it may lose them in this location: only objects with copies elsewhere are
    /// replaced (re-wrapped data keys), one location at a time.
    func replace(_ key: String, _ bytes: [UInt8]) throws
    /// Removes each of `keys` that exists (missing ones are not an error). The removals
    /// become durable together at the next `sync()`: for clearing many objects that have
    /// been superseded, without a flush per object.
    func delete(many keys: [String]) throws
    /// Whether the stored object `key` is exactly `bytes` (false when it is missing): the
    /// read-back check after a write, without holding a second copy of a large object.
    func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool
    /// Makes every replacement and batch removal so far durable.
    func sync() throws
    /// What this backend is and what its operations cost: callers ask instead of downcasting.
    var capabilities: StoreCapabilities { get }
    /// Makes the location ready to receive objects (a local folder is created; a bucket must
    /// already exist, so a remote store does nothing). Called before a repository is written.
    func prepare() throws
}

/// What a store is, for the decisions that depend on it.
public struct StoreCapabilities: Sendable, Equatable {
    /// Reached over a network: a failed listing is a problem of its own (a local folder
    /// that is gone is a lost location, found object by object).
    public var isRemote: Bool
    /// `replace` is atomic for readers (rename(2), or an S3 PUT).
    public var atomicReplace: Bool
    /// One listing costs a request per 1,000 names (S3) rather than a directory read.
    public var listingIsPaged: Bool

    /// Capabilities as given.
    public init(isRemote: Bool, atomicReplace: Bool, listingIsPaged: Bool) {
        self.isRemote = isRemote; self.atomicReplace = atomicReplace; self.listingIsPaged = listingIsPaged
    }

    /// A folder on this host.
    public static let localFolder = StoreCapabilities(isRemote: false, atomicReplace: true, listingIsPaged: false)
    /// An object service such as S3.
    public static let objectService = StoreCapabilities(isRemote: true, atomicReplace: true, listingIsPaged: true)
}

extension ObjectStore {
    /// Nothing to prepare, for a store whose location must already exist.
    public func prepare() throws {}

    /// The object's bytes, up to the largest object any store reads (`largestObject`).
    public func get(_ key: String) throws -> [UInt8] { try get(key, maximumSize: largestObject) }
}

/// The largest object any store reads (2 GiB): packs, sets and reports are far smaller.
public let largestObject = 2 << 30

/// The error for an object over the size asked for.
public func objectTooLarge(location: String, key: String, size: Int, maximum: Int) -> StorageError {
    .io(location: location, key: key, reason: "holds \(size) bytes, more than the \(maximum) such an object can hold; not read")
}

/// Object names are slash-separated segments of letters, digits, '.', '-' and '_'.
/// Throws `invalidKey` unless `key` is a name every backend can hold (see the contract above).
public func validate(_ key: String) throws {
    // ASCII letters, digits and `/._-` only, checked on bytes: names are checked once per
    // object operation, hundreds of thousands of times in a rotation or prune.
    var ok = !key.isEmpty
    var previous: UInt8 = 0
    for b in key.utf8 where ok {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "/"):
            break
        case UInt8(ascii: "."): ok = previous != UInt8(ascii: ".")
        default: ok = false
        }
        previous = b
    }
    if key.utf8.first == UInt8(ascii: "/") { ok = false }
    if !ok { throw StorageError.invalidKey(key) }
}
