import Foundation
import LeafKeys
import LeafSodium
import LeafStorage

/// How many data keys each master-key version wraps in a region.
public struct KeyCensus: Sendable, Codable, Equatable {
    public var region: String
    /// Version → data keys it wraps (a key counts once, whatever its number of copies).
    public var byVersion: [UInt32: Int]
    /// Keys with copies under more than one version (a rotation in progress).
    public var mixed: Int
    public var unreadable: [String]
}

/// What re-wrapping did in a region.
public struct RewrapResult: Sendable {
    public var keys = 0
    public var rewrapped = 0
    public var copiesWritten = 0
    public var seconds = 0.0
}

extension Repository {
    /// Reads the header of every copy of every wrapped data key.
    public func keyCensus() -> KeyCensus {
        var census = KeyCensus(region: region, byVersion: [:], mixed: 0, unreadable: [])
        for name in listReplicated(prefix: "keys/") {
            var versions = Set<UInt32>()
            for loc in locations {
                guard let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes), h.kind == .dataKey else { continue }
                versions.insert(h.keyID.asMasterVersion)
            }
            guard let oldest = versions.min() else { census.unreadable.append(name); continue }
            // A key is counted under the oldest version any copy still needs.
            census.byVersion[oldest, default: 0] += 1
            if versions.count > 1 { census.mixed += 1 }
        }
        return census
    }

    /// Re-wraps every data key under the active master version. Locations are done one
    /// after another, each finished with a sync before the next starts: while one location
    /// is being rewritten the others hold intact copies, and each copy is replaced
    /// atomically, so a rotation stopped at any point loses nothing and is finished by
    /// running it again. Bulk data is untouched.
    public func rewrapDataKeys(progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> RewrapResult {
        let t0 = Date()
        let names = listReplicated(prefix: "keys/")
        let target = master.version
        let wrapping = try master.wrappingKey()
        let tally = RewrapTally()
        let cache = RewrapCache()
        let workers = max(2, ProcessInfo.processInfo.activeProcessorCount)
        for loc in locations {
            let present = Set((try? loc.list(prefix: "keys/")) ?? [])
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < names.count {
                    let name = names[i]
                    i += workers
                    do {
                        if present.contains(name), let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes),
                           h.keyID.asMasterVersion == target, h.kind == .dataKey { continue }
                        let fresh = try cache.wrapped(name) {
                            let authentic = try readAuthenticCopy(name)
                            let header = try EnvelopeHeader.decode(authentic)
                            let key = try DataKey.unwrap(authentic, expectedID: header.objectID) { v in try wrappingKey(version: v, dataKey: header.objectID) }
                            return try key.wrap(master: wrapping, masterVersion: target)
                        }
                        try loc.replace(name, fresh)
                        tally.add(written: 1)
                    } catch {
                        tally.fail("\(loc.name): \(name): \(error)")
                    }
                }
            }
            try loc.sync()
            progress?(tally.written, names.count * locations.count)
        }
        if let problem = tally.firstProblem {
            throw RepositoryError.unreadable(object: "keys/ in region \(region)", problems: [problem, "rerun the rotation once the region is healthy; nothing was lost"])
        }
        var r = RewrapResult()
        r.keys = names.count; r.rewrapped = cache.count
        r.copiesWritten = tally.written; r.seconds = Date().timeIntervalSince(t0)
        return r
    }
}

/// Each key is unwrapped and re-wrapped once; every location gets the same new bytes.
private final class RewrapCache: @unchecked Sendable {
    private let lock = NSLock()
    private var done: [String: [UInt8]] = [:]
    var count: Int { lock.lock(); defer { lock.unlock() }; return done.count }
    func wrapped(_ name: String, _ make: () throws -> [UInt8]) throws -> [UInt8] {
        lock.lock()
        if let b = done[name] { lock.unlock(); return b }
        lock.unlock()
        let b = try make()
        lock.lock(); defer { lock.unlock() }
        if let existing = done[name] { return existing }
        done[name] = b
        return b
    }
}

private final class RewrapTally: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var written = 0
    private(set) var firstProblem: String?
    func add(written w: Int) { lock.lock(); written += w; lock.unlock() }
    func fail(_ p: String) { lock.lock(); if firstProblem == nil { firstProblem = p }; lock.unlock() }
}
