import Foundation
import LeafStorage
import LeafTestSupport
import Testing

/// The contract every `ObjectStore` backend must keep, in named parts: each part is a test
/// of its own for the local, in-memory and fault-injecting stores (ObjectStoreContractTests),
/// and the S3 store runs them all in order against a real server (S3Tests).
enum ObjectStoreContract {
    static func putGetAndSize(_ store: any ObjectStore) throws {
        let payload: [UInt8] = (0..<70_000).map { UInt8($0 % 251) }
        try store.put("data/ab/object.0", payload)
        #expect(try store.get("data/ab/object.0") == payload)
        #expect(try store.size(of: "data/ab/object.0") == payload.count)
        #expect(try store.size(of: "data/ab/missing") == nil)

        // Read-back comparison: exact bytes only.
        #expect(try store.holds("data/ab/object.0", exactly: payload))
        #expect(try !store.holds("data/ab/object.0", exactly: Array(payload.dropLast())))
        var altered = payload; altered[69_999] ^= 1
        #expect(try !store.holds("data/ab/object.0", exactly: altered))
        #expect(try !store.holds("data/ab/missing", exactly: []))
    }

    static func neverOverwritten(_ store: any ObjectStore) throws {
        let payload: [UInt8] = (0..<70_000).map { UInt8($0 % 251) }
        try store.put("data/ab/object.0", payload)
        // Never overwritten.
        #expect(throws: StorageError.alreadyExists(location: store.name, key: "data/ab/object.0")) { try store.put("data/ab/object.0", [1]) }
        #expect(try store.get("data/ab/object.0") == payload)
    }

    static func emptyObjectsAndSortedListing(_ store: any ObjectStore) throws {
        try store.put("data/ab/object.0", [1])
        // Empty objects, listing by prefix, sorted, no temporaries.
        try store.put("snapshots/b", [])
        try store.put("snapshots/a", [7])
        #expect(try store.get("snapshots/b") == [])
        #expect(try store.list(prefix: "snapshots/") == ["snapshots/a", "snapshots/b"])
        #expect(try store.list(prefix: "data/") == ["data/ab/object.0"])
        #expect(try store.list(prefix: "index/") == [])
    }

    static func missingObjectsAndDeletion(_ store: any ObjectStore) throws {
        try store.put("snapshots/a", [7])
        try store.put("snapshots/b", [])
        // Missing objects and deletion.
        #expect(throws: StorageError.notFound(location: store.name, key: "nope")) { try store.get("nope") }
        try store.delete("snapshots/a")
        #expect(try store.list(prefix: "snapshots/") == ["snapshots/b"])
        #expect(throws: StorageError.notFound(location: store.name, key: "snapshots/a")) { try store.delete("snapshots/a") }
    }

    static func replacement(_ store: any ObjectStore) throws {
        // Replacement: the new bytes, whole; no temporaries left; durable after sync.
        try store.put("keys/k", [1, 2, 3])
        try store.replace("keys/k", [9, 8, 7, 6])
        #expect(try store.get("keys/k") == [9, 8, 7, 6])
        try store.replace("keys/k", [])
        #expect(try store.get("keys/k") == [])
        #expect(try store.list(prefix: "keys/") == ["keys/k"])
        try store.replace("reports/new/r", [5])  // replacing what is not there yet creates it
        #expect(try store.get("reports/new/r") == [5])
        try store.sync()
        #expect(throws: StorageError.invalidKey("../k")) { try store.replace("../k", [1]) }
    }

    static func batchRemoval(_ store: any ObjectStore) throws {
        // Batch removal: present ones go, missing ones are no error, others stay.
        for n in 0..<5 { try store.put("keys/batch-\(n)", [UInt8(n)]) }
        try store.delete(many: ["keys/batch-0", "keys/batch-2", "keys/batch-4", "keys/never-there"])
        try store.sync()
        #expect(try store.list(prefix: "keys/batch-") == ["keys/batch-1", "keys/batch-3"])
        #expect(throws: StorageError.invalidKey("../k")) { try store.delete(many: ["../k"]) }
    }

    static func namesThatCouldEscapeAreRefused(_ store: any ObjectStore) throws {
        // Names that could escape the store are refused.
        for bad in ["../x", "/abs", "a/../../b", "", "sp ace"] {
            #expect(throws: StorageError.invalidKey(bad)) { try store.put(bad, [1]) }
        }
    }

    static let parts: [(name: String, check: @Sendable (any ObjectStore) throws -> Void)] = [
        ("putGetAndSize", putGetAndSize),
        ("neverOverwritten", neverOverwritten),
        ("emptyObjectsAndSortedListing", emptyObjectsAndSortedListing),
        ("missingObjectsAndDeletion", missingObjectsAndDeletion),
        ("replacement", replacement),
        ("batchRemoval", batchRemoval),
        ("namesThatCouldEscapeAreRefused", namesThatCouldEscapeAreRefused),
    ]
}

/// Every part of the contract, each on a fresh store `make` gives for the part's name (what
/// the S3 test runs: a prefix per part in one bucket).
func checkObjectStoreConformance(_ make: (String) throws -> any ObjectStore) throws {
    for part in ObjectStoreContract.parts { try part.check(try make(part.name)) }
}

/// Each part of the contract as its own test, for each store that runs here without a server.
@Suite struct ObjectStoreContractTests {
    static let backends = ["local", "memory", "faulty-passthrough", "faulty-slow", "retrying-over-faults", "limited"]

    /// Every operation fails transiently on its 1st, 5th, 9th… call and does its work but
    /// loses its answer on its 2nd, 6th, 10th…: what a RetryingStore must hide. (`holds` is
    /// the fault store's own `get`, which has these faults already. And no throttled delete:
    /// a delete retried after a failure that may have reached the store takes a missing
    /// object as deleted, so the contract's notFound for a second delete cannot be told
    /// apart; its lost answers are injected.)
    static var flakyAndLostAnswers: [FaultyStore.Fault] {
        let ops = FaultyStore.Operation.allCases.filter { $0 != .holds }
        return ops.filter { $0 != .delete }.map { FaultyStore.Fault.flaky($0, nth: 1, every: 4) }
            + ops.map { FaultyStore.Fault.answerLost($0, nth: 2, every: 4) }
    }

    static func makeStore(_ backend: String, in dir: TemporaryDirectory) throws -> any ObjectStore {
        switch backend {
        case "local":
            let store = LocalStore(name: "test/loc0", root: dir.file("loc0"))
            try store.create()
            return store
        case "memory": return MemoryStore(name: "test/mem0")
        case "faulty-passthrough": return FaultyStore(MemoryStore(name: "test/mem1"))
        case "faulty-slow": return FaultyStore(MemoryStore(name: "test/mem2"), faults: [.slow(seconds: 0.001)])
        case "retrying-over-faults":
            return RetryingStore(FaultyStore(MemoryStore(name: "test/mem3"), faults: flakyAndLostAnswers), policy: RetryPolicy(attempts: 8, base: 0))
        default: return LimitedStore(MemoryStore(name: "test/mem4"), limit: RequestLimit(width: 1))
        }
    }

    @Test(arguments: backends, ObjectStoreContract.parts.map(\.name))
    func keepsTheContract(backend: String, part: String) throws {
        let dir = TemporaryDirectory()
        let store = try Self.makeStore(backend, in: dir)
        let check = try #require(ObjectStoreContract.parts.first { $0.name == part }?.check)
        try check(store)
        #expect(!filesBelow(dir.file("loc0")).contains { $0.contains(".tmp-") }, "no temporaries left")
    }

    /// The fault store itself: each rule does what it says, and only that.
    @Test func faultsAreInjectedAsAsked() throws {
        let inner = MemoryStore(name: "f")
        try inner.put("data/x", [1, 2, 3, 4])
        let store = FaultyStore(inner, faults: [.fail(.get, nth: 2), .corruptReads(prefix: "data/")])
        #expect(try store.get("data/x") != [1, 2, 3, 4], "corrupted")
        #expect(throws: StorageError.self) { try store.get("data/x") }
        store.faults = [.truncateReads(prefix: "data/")]
        #expect(try store.get("data/x") == [1, 2])
        store.faults = [.disappeared]
        #expect(throws: StorageError.self) { try store.list(prefix: "") }
        store.faults = []
        #expect(try store.get("data/x") == [1, 2, 3, 4] && store.count(.get) == 4)
    }
}

@Suite struct LocalStoreTests {
    @Test func aMissingLocationIsUnavailableNotEmpty() throws {
        let dir = TemporaryDirectory()
        let store = LocalStore(name: "test/loc9", root: dir.file("gone"))
        #expect(throws: StorageError.missingLocation(location: "test/loc9", reason: "folder \(dir.file("gone")) does not exist")) {
            try store.put("x", [1])
        }
        #expect(throws: StorageError.self) { try store.list(prefix: "") }
        #expect(throws: StorageError.self) { try store.get("x") }
    }
}

/// Whoever owns one location can plant symbolic links in it. Beneath the location's folder
/// the local store follows none: nothing is written, read, listed or removed through them.
@Suite struct LocalStoreLinkTests {
    /// A location whose `snapshots` folder is a link to a folder of the host holding a file
    /// with an object's name, and whose `keys/k` is a link to a host file.
    func planted() throws -> (store: LocalStore, outside: String, dir: TemporaryDirectory) {
        let dir = TemporaryDirectory()
        let store = LocalStore(name: "test/loc0", root: dir.file("loc0"))
        try store.create()
        let outside = dir.file("host")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "host file".write(toFile: outside + "/a", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir.file("loc0/snapshots"), withDestinationPath: outside)
        try FileManager.default.createDirectory(atPath: dir.file("loc0/keys"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("loc0/keys/k"), withDestinationPath: outside + "/a")
        return (store, outside, dir)
    }

    func expectUntouched(_ outside: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect((try? FileManager.default.contentsOfDirectory(atPath: outside)) == ["a"], sourceLocation: sourceLocation)
        #expect((try? String(contentsOfFile: outside + "/a", encoding: .utf8)) == "host file", sourceLocation: sourceLocation)
    }

    @Test func aLinkedFolderIsNeverFollowed() throws {
        let (store, outside, dir) = try planted()
        defer { withExtendedLifetime(dir) {} }
        #expect { try store.put("snapshots/b", [1]) } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.replace("snapshots/a", [1]) } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.get("snapshots/a") } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.size(of: "snapshots/a") } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.holds("snapshots/a", exactly: Array("host file".utf8)) } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.delete("snapshots/a") } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.delete(many: ["snapshots/a"]) } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect { try store.list(prefix: "snapshots/") } throws: { "\($0)".contains("snapshots is not a folder") }
        #expect(try store.list(prefix: "") == [], "a whole-location listing does not descend into the link")
        expectUntouched(outside)
    }

    @Test func aLinkAtAnObjectsNameIsNoObject() throws {
        let (store, outside, dir) = try planted()
        #expect { try store.get("keys/k") } throws: { "\($0)".contains("symbolic link") }
        #expect { try store.size(of: "keys/k") } throws: { "\($0)".contains("not a regular file") }
        #expect { try store.holds("keys/k", exactly: Array("host file".utf8)) } throws: { "\($0)".contains("symbolic link") }
        #expect(throws: StorageError.alreadyExists(location: "test/loc0", key: "keys/k")) { try store.put("keys/k", [1]) }
        #expect(try store.list(prefix: "keys/") == [])
        // Replacing or removing the name replaces or removes the link itself, not what it names.
        try store.replace("keys/k", [7])
        #expect(try store.get("keys/k") == [7])
        try store.delete("keys/k")
        try FileManager.default.createSymbolicLink(atPath: dir.file("loc0/keys/k"), withDestinationPath: outside + "/a")
        try store.delete(many: ["keys/k"])
        #expect(!FileManager.default.fileExists(atPath: dir.file("loc0/keys/k")))
        expectUntouched(outside)
    }
}
