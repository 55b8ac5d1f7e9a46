import Foundation
import LeafStorage
import LeafTestSupport
import Testing

/// The contract every `ObjectStore` backend must keep. Each backend's test runs this.
func checkObjectStoreConformance(_ store: any ObjectStore) throws {
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

    // Never overwritten.
    #expect(throws: StorageError.alreadyExists(location: store.name, key: "data/ab/object.0")) { try store.put("data/ab/object.0", [1]) }
    #expect(try store.get("data/ab/object.0") == payload)

    // Empty objects, listing by prefix, sorted, no temporaries.
    try store.put("snapshots/b", [])
    try store.put("snapshots/a", [7])
    #expect(try store.get("snapshots/b") == [])
    #expect(try store.list(prefix: "snapshots/") == ["snapshots/a", "snapshots/b"])
    #expect(try store.list(prefix: "data/") == ["data/ab/object.0"])
    #expect(try store.list(prefix: "index/") == [])

    // Missing objects and deletion.
    #expect(throws: StorageError.notFound(location: store.name, key: "nope")) { try store.get("nope") }
    try store.delete("snapshots/a")
    #expect(try store.list(prefix: "snapshots/") == ["snapshots/b"])
    #expect(throws: StorageError.notFound(location: store.name, key: "snapshots/a")) { try store.delete("snapshots/a") }

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

    // Batch removal: present ones go, missing ones are no error, others stay.
    for n in 0..<5 { try store.put("keys/batch-\(n)", [UInt8(n)]) }
    try store.delete(many: ["keys/batch-0", "keys/batch-2", "keys/batch-4", "keys/never-there"])
    try store.sync()
    #expect(try store.list(prefix: "keys/batch-") == ["keys/batch-1", "keys/batch-3"])
    #expect(throws: StorageError.invalidKey("../k")) { try store.delete(many: ["../k"]) }

    // Names that could escape the store are refused.
    for bad in ["../x", "/abs", "a/../../b", "", "sp ace"] {
        #expect(throws: StorageError.invalidKey(bad)) { try store.put(bad, [1]) }
    }
}

@Suite struct LocalStoreTests {
    @Test func localStoreKeepsTheObjectStoreContract() throws {
        let dir = TemporaryDirectory()
        let store = LocalStore(name: "test/loc0", root: dir.file("loc0"))
        try store.create()
        try checkObjectStoreConformance(store)
        #expect(!filesBelow(dir.file("loc0")).contains { $0.contains(".tmp-") })
    }

    @Test func aMissingLocationIsUnavailableNotEmpty() throws {
        let dir = TemporaryDirectory()
        let store = LocalStore(name: "test/loc9", root: dir.file("gone"))
        #expect(throws: StorageError.unavailable(location: "test/loc9", reason: "folder \(dir.file("gone")) does not exist")) {
            try store.put("x", [1])
        }
        #expect(throws: StorageError.self) { try store.list(prefix: "") }
        #expect(throws: StorageError.self) { try store.get("x") }
    }
}
