import Foundation
import LeafConcurrency
import LeafKeys
import LeafSodium
import LeafStorage

/// How many data keys each master-key version wraps in a region.
public struct KeyCensus: Sendable, Codable, Equatable {
    /// The region counted.
    public var region: String
    /// Version → data keys it wraps (a key counts once, whatever its number of copies).
    public var byVersion: [UInt32: Int]
    /// Keys with copies under more than one version (a rotation in progress).
    public var mixed: Int
    /// Data keys or key sets that could not be read, with why.
    public var unreadable: [String]
}

/// What re-wrapping did in a region.
public struct RewrapResult: Sendable {
    /// Distinct data keys found in the region.
    public var keys = 0
    /// Keys written anew under the active version (0 when every key already was).
    public var rewrapped = 0
    /// Copies of the new key set written (one per location).
    public var copiesWritten = 0
    /// Older key objects removed once the new set was durable everywhere.
    public var objectsRemoved = 0
    /// Keys left out of the new set because they were to be dropped.
    public var dropped = 0
    /// Until every key was re-wrapped and the new set durable and read back everywhere.
    public var rewrapSeconds = 0.0
    /// The whole rotation of the region, removal of the superseded objects included.
    public var seconds = 0.0
}

extension Repository {
    /// Reads the header of every copy of every key object (opening key sets to count
    /// their keys).
    public func keyCensus() -> KeyCensus {
        var census = KeyCensus(region: region, byVersion: [:], mixed: 0, unreadable: [])
        var versionsOf: [ObjectID: Set<UInt32>] = [:]
        for name in listReplicated(prefix: "keys/") {
            var found = false
            if KeySet.isSet(name) {
                guard let id = ObjectID(hex: String(name.dropFirst(KeySet.prefix.count))) else { continue }
                var counted = Set<UInt32>()
                for loc in locations {
                    guard let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes), h.kind == .keySet else { continue }
                    let v = h.keyID.asMasterVersion
                    if counted.contains(v) { continue }
                    if let plain = try? KeySet.open(bytes, id: id, wrapping: { try self.wrappingKey(version: $0, dataKey: id) }) {
                        for (key, _) in KeySet.entries(plain) { versionsOf[key, default: []].insert(v) }
                    } else if decryptKeys[v] == nil {
                        // A version this keyring cannot open: count its keys without knowing them.
                        census.byVersion[v, default: 0] += Int(h.plaintextLength) / KeySet.entryLength
                    } else {
                        continue
                    }
                    counted.insert(v); found = true
                }
            } else {
                guard let id = ObjectID(hex: String(name.dropFirst(5))) else { continue }
                for loc in locations {
                    guard let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes), h.kind == .dataKey else { continue }
                    versionsOf[id, default: []].insert(h.keyID.asMasterVersion); found = true
                }
            }
            if !found { census.unreadable.append(name) }
        }
        for versions in versionsOf.values {
            // A key is counted under the oldest version any copy still needs.
            guard let oldest = versions.min() else { continue }
            census.byVersion[oldest, default: 0] += 1
            if versions.count > 1 { census.mixed += 1 }
        }
        return census
    }

    /// Re-wraps every data key of the region under the active master version, by writing
    /// them all into one new key set. Bulk data is untouched.
    ///
    /// Order, so that a rotation stopped at any point loses nothing and a rerun finishes
    /// it: every key object is read and authenticated; the new set is written to every
    /// location, synced and read back; only then are the objects it replaces removed. A
    /// key that could not be read keeps its object. Sets already under the active version
    /// and present in every location count as done, so a rerun after the set was written
    /// only removes what is left.
    ///
    /// Keys in `dropping` (replaced ones nothing needs) are left out of the new set, and a
    /// set holding any of them is never kept: after it, no object of the region holds them.
    public func rewrapDataKeys(dropping: Set<ObjectID> = [], progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> RewrapResult {
        let t0 = Date()
        let target = master.version
        var present: [String: Int] = [:]
        // Locations that cannot be listed or written: up to `tolerableFailures` of them are
        // passed by (one location is one vote), reported, and left for a rerun once mended.
        var refusing: [Int: String] = [:]
        for (l, loc) in locations.enumerated() {
            do {
                for name in try loc.list(prefix: "keys/") { present[name, default: 0] += 1 }
            } catch { refusing[l] = "\(error)" }
        }
        func checkRefusing() throws {
            guard refusing.count > tolerableFailures else { return }
            throw RepositoryError.insufficientLocations(
                region: region, written: locations.count - refusing.count, needed: locations.count - tolerableFailures,
                problems: refusing.keys.sorted().compactMap { refusing[$0] })
        }
        try checkRefusing()
        let names = present.keys.sorted()
        let singles = names.filter { !KeySet.isSet($0) }
        let setNames = names.filter(KeySet.isSet)
        var wrappers: [UInt32: SecureBytes] = [:]
        for (v, k) in decryptKeys { wrappers[v] = try k.wrappingKey() }
        let wrapping: @Sendable (UInt32, ObjectID) throws -> SecureBytes = { [wrappers] v, id in
            guard let w = wrappers[v] else { throw RepositoryError.wrongMasterKey(version: v, dataKey: id.hex) }
            return w
        }

        // 1. Open every set; note the complete sets already under the target version.
        var sets: [(name: String, plain: SecureBytes, done: Bool)] = []
        var problems: [String] = []
        for name in setNames {
            guard let id = ObjectID(hex: String(name.dropFirst(KeySet.prefix.count))) else { continue }
            do {
                var version: UInt32 = 0
                let plain: SecureBytes = try readReplicated(name) { bytes in
                    version = try EnvelopeHeader.decode(bytes).keyID.asMasterVersion
                    return try KeySet.open(bytes, id: id) { try wrapping($0, id) }
                }
                sets.append((name, plain, version == target && present[name] == locations.count))
            } catch { problems.append("\(name): \(error)") }
        }
        // 2. Unwrap every key kept alone, into one guarded buffer (slot i for singles[i]).
        let singlesPlain = try SecureBytes(count: singles.count * KeySet.entryLength)
        let ok = ConcurrentFlags(count: singles.count)
        let workers = 8
        parallelForEach(workers, width: workers) { [self] w in
            var i = w
            while i < singles.count {
                defer { i += workers }
                guard let id = ObjectID(hex: String(singles[i].dropFirst(5))) else { continue }
                do {
                    try readReplicated(singles[i]) { bytes in
                        try singlesPlain.withUnsafeMutableBytes { out in
                            let o = i * KeySet.entryLength
                            try DataKey.unwrap(
                                bytes, expectedID: id, master: { try wrapping($0, id) },
                                into: UnsafeMutableRawBufferPointer(rebasing: out[o..<(o + KeySet.entryLength)]))
                        }
                    }
                    ok.set(i)
                } catch { ok.fail("\(singles[i]): \(error)") }
            }
        }
        problems += ok.problems
        progress?(singles.count, singles.count)

        // 3. Which keys the complete target sets already hold, and every key found.
        for i in sets.indices where sets[i].done && KeySet.entries(sets[i].plain).contains(where: { dropping.contains($0.0) }) {
            sets[i].done = false  // it holds a key to drop: replaced by a set without it
        }
        var covered = Set<ObjectID>()
        for s in sets where s.done { for (id, _) in KeySet.entries(s.plain) { covered.insert(id) } }
        var entries: [ObjectID: (SecureBytes, Int)] = [:]
        for s in sets { for (id, offset) in KeySet.entries(s.plain) where entries[id] == nil { entries[id] = (s.plain, offset) } }
        let dropped = dropping.filter { entries[$0] != nil }.count
        for i in 0..<singles.count where ok.isSet(i) {
            if let id = ObjectID(hex: String(singles[i].dropFirst(5))), entries[id] == nil { entries[id] = (singlesPlain, i * KeySet.entryLength) }
        }
        for id in dropping { entries[id] = nil }

        var result = RewrapResult()
        result.keys = entries.count
        var keep = Set(sets.filter(\.done).map(\.name))
        result.dropped = dropped
        if entries.isEmpty {
            keep = []
        } else if entries.keys.contains(where: { !covered.contains($0) }) {
            // 4. One new set of every key, durable and read back in every location.
            let ids = entries.keys.sorted()
            let plain = try SecureBytes(count: ids.count * KeySet.entryLength)
            plain.withUnsafeMutableBytes { out in
                for (n, id) in ids.enumerated() {
                    guard let (src, offset) = entries[id] else { continue }  // ids are entries' own keys
                    src.withUnsafeBytes {
                        let length = KeySet.entryLength
                        UnsafeMutableRawBufferPointer(rebasing: out[(n * length)..<((n + 1) * length)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)]))
                    }
                }
            }
            let setID = ObjectID.random()
            let name = KeySet.name(setID)
            let sealed = try KeySet.seal(plain, id: setID, wrapping: try wrapping(target, setID), version: target)
            for (l, loc) in locations.enumerated() where refusing[l] == nil {
                do {
                    try loc.put(name, sealed)
                    try loc.sync()
                } catch {
                    refusing[l] = "\(error)"
                    continue
                }
                guard try loc.get(name) == sealed else {
                    throw RepositoryError.unreadable(object: name, problems: ["\(loc.name) returned other bytes than were written; nothing was removed"])
                }
            }
            try checkRefusing()
            keep = [name]
            result.rewrapped = ids.count
            result.copiesWritten = locations.count - refusing.count
        }
        result.rewrapSeconds = Date().timeIntervalSince(t0)
        // 5. Remove what the kept sets now hold: every object all of whose keys were read.
        let openedSets = Set(sets.map(\.name))
        let unreadSingles = Set(singles.indices.filter { !ok.isSet($0) }.map { singles[$0] })
        let removable = names.filter { !keep.contains($0) && !unreadSingles.contains($0) && (!KeySet.isSet($0) || openedSets.contains($0)) }
        let removalProblems = ConcurrentFlags(count: 0)
        // A refusing location keeps its old key objects until a rerun after it is mended.
        let stores = locations.indices.filter { refusing[$0] == nil }.map { locations[$0] }
        noteWriteProblems(
            refusing.keys.sorted().compactMap { l in
                refusing[l].map { "\($0) (its superseded key objects stay until 'leafguard keys rotate' runs again after it is mended)" }
            })
        // Removal waits on the file system (discard, journal): several threads per location.
        let parts = removable.count > 1000 ? 3 : 1
        parallelForEach(stores.count * parts, width: stores.count * parts) { t in
            let l = t / parts
            let part = t % parts
            let mine = stride(from: part, to: removable.count, by: parts).map { removable[$0] }
            do { try stores[l].delete(many: mine) } catch { removalProblems.fail("\(stores[l].name): \(error)") }
        }
        for loc in stores { do { try loc.sync() } catch { removalProblems.fail("\(loc.name): \(error)") } }
        // Leftovers are harmless (their keys are in the new set too); a rerun removes them.
        problems += removalProblems.problems
        result.objectsRemoved = removable.count
        if !dropping.isEmpty { keySets.forgetAll(); for id in dropping { forgetDataKey(id) } }
        result.seconds = Date().timeIntervalSince(t0)
        if let problem = problems.first {
            throw RepositoryError.unreadable(
                object: "keys/ in region \(region)",
                problems: [problem, "\(problems.count) key object(s) were left as they are; rerun the rotation once the region is healthy; nothing was lost"])
        }
        return result
    }
}

/// Which slots a concurrent loop filled, and the first problems it met.
private final class ConcurrentFlags: Sendable {
    private struct State { var flags: [Bool]; var problems: [String] = [] }
    private let state: Locked<State>
    init(count: Int) { state = Locked(State(flags: Array(repeating: false, count: count))) }
    func set(_ i: Int) { state.withLock { $0.flags[i] = true } }
    func isSet(_ i: Int) -> Bool { state.withLock { $0.flags[i] } }
    func fail(_ p: String) { state.withLock { $0.problems.append(p) } }
    var problems: [String] { state.withLock { $0.problems } }
}
