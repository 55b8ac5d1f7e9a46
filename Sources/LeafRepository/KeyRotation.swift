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
    public var alreadyCurrent = 0
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

    /// Re-wraps every data key under the active master version, copy by copy: each location
    /// always holds either the old or the new wrapping of a key, never neither, so a
    /// rotation stopped at any point is finished by running it again. Bulk data is untouched.
    public func rewrapDataKeys(progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> RewrapResult {
        let t0 = Date()
        let names = listReplicated(prefix: "keys/")
        let target = master.version
        let wrapping = try master.wrappingKey()
        let results = RewrapTally()
        let workers = max(2, min(8, ProcessInfo.processInfo.activeProcessorCount * 2))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < names.count {
                do {
                    let (rewrote, written) = try rewrapOne(names[i], target: target, wrapping: wrapping)
                    results.add(rewrote: rewrote, written: written)
                } catch {
                    results.fail("\(names[i]): \(error)")
                }
                progress?(results.done, names.count)
                i += workers
            }
        }
        if let problem = results.firstProblem {
            throw RepositoryError.unreadable(object: "keys/ in region \(region)", problems: [problem, "rerun the rotation once the region is healthy; nothing was lost"])
        }
        var r = RewrapResult()
        r.keys = names.count; r.rewrapped = results.rewrote; r.alreadyCurrent = names.count - results.rewrote
        r.copiesWritten = results.written; r.seconds = Date().timeIntervalSince(t0)
        return r
    }

    func rewrapOne(_ name: String, target: UInt32, wrapping: SecureBytes) throws -> (Bool, Int) {
        var stale: [any ObjectStore] = []
        for loc in locations {
            guard let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes) else { stale.append(loc); continue }
            if h.keyID.asMasterVersion != target { stale.append(loc) }
        }
        guard !stale.isEmpty else { return (false, 0) }
        let authentic = try readAuthenticCopy(name)
        let header = try EnvelopeHeader.decode(authentic)
        let key = try DataKey.unwrap(authentic, expectedID: header.objectID) { v in try wrappingKey(version: v, dataKey: header.objectID) }
        let rewrapped = try key.wrap(master: wrapping, masterVersion: target)
        var written = 0
        for loc in stale {
            // Delete, then write: the other locations hold a copy throughout.
            try? loc.delete(name)
            try loc.put(name, rewrapped)
            written += 1
        }
        return (true, written)
    }
}

private final class RewrapTally: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var rewrote = 0, written = 0, done = 0
    private(set) var firstProblem: String?
    func add(rewrote r: Bool, written w: Int) { lock.lock(); if r { rewrote += 1 }; written += w; done += 1; lock.unlock() }
    func fail(_ p: String) { lock.lock(); if firstProblem == nil { firstProblem = p }; done += 1; lock.unlock() }
}
