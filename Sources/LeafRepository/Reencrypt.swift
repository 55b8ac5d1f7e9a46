import Foundation
import LeafConcurrency
import LeafStorage

/// Which data `reencrypt` rewrites.
public struct ReencryptSelection: Sendable {
    /// Packs sealed longer ago than this (packs without a recorded seal time: since the
    /// oldest snapshot that needs them).
    public var olderThan: TimeInterval?
    /// Everything sealed under this data key: packs, indexes, snapshots, reports.
    public var dataKey: ObjectID?
    /// The instant `olderThan` counts back from.
    public var now: Date
    /// A selection by age, by data key, or both.
    public init(olderThan: TimeInterval? = nil, dataKey: ObjectID? = nil, now: Date = Date()) {
        self.olderThan = olderThan; self.dataKey = dataKey; self.now = now
    }
}

/// What a re-encryption did.
public struct ReencryptResult: Sendable {
    /// Packs the selection chose.
    public var packsSelected = 0
    /// Packs written anew (fresh key, fresh nonces, the new layout), read back and verified.
    public var packsRewritten = 0
    /// Selected packs an interrupted earlier run had already rewritten.
    public var packsAlreadyDone = 0
    /// Shard bytes read.
    public var bytesRead: Int64 = 0
    /// Shard bytes written.
    public var bytesWritten: Int64 = 0
    /// Snapshots sealed anew under a fresh data key.
    public var snapshotsResealed = 0
    /// Archived reports sealed anew under a fresh data key.
    public var reportsResealed = 0
    /// Shards of packs no index names, left by an interrupted earlier run, removed.
    public var leftoverShardsRemoved = 0
    /// Copies of replicated objects written to locations lacking them (new locations).
    public var copiesAdded = 0
    /// Shards of the rewritten packs' old ciphertext removed.
    public var oldShardsRemoved = 0
    /// Data keys no longer sealing anything, removed.
    public var dataKeysRemoved = 0
    /// The layout written, `data+parity`.
    public var layout = ""
    /// How long it took.
    public var seconds = 0.0
}

extension Repository {
    /// Gives the selected data a fresh data key and fresh ciphertext, in the `data + parity`
    /// layout over this region's current locations, under an exclusive region lock.
    ///
    /// Order, so that an interruption at any point loses nothing and a rerun finishes:
    /// shards no index names (leftovers of killed runs, possibly under the key being
    /// replaced) are removed; each selected pack is read, written anew and read back, with
    /// an index checkpoint every 32 packs; then one index of everything kept replaces the
    /// old indexes; snapshots and reports sealed by a replaced key are re-sealed in place
    /// (each copy swapped atomically, both versions readable meanwhile); the old packs'
    /// shards go last, then the replaced keys' own objects once nothing needs them. A rerun
    /// recognises packs already rewritten (same blobs, not selected) and only drops them.
    public func reencrypt(
        _ selection: ReencryptSelection, dataShards: Int, parityShards: Int, workers: Int = 2, dryRun: Bool = false,
        progress: (@Sendable (Int64, Int64) -> Void)? = nil
    ) throws -> ReencryptResult {
        let t0 = Date()
        guard dataShards + parityShards <= locations.count else {
            throw RepositoryError.malformed(
                "\(dataShards)+\(parityShards) shards need \(dataShards + parityShards) locations; region '\(region)' has \(locations.count)")
        }
        if let k = selection.dataKey, k == config.idKey {
            throw RepositoryError.malformed(
                "data key \(k.hex) is the repository's identity key, which names blobs and seals only the config; it cannot be replaced without storing everything anew"
            )
        }
        // Locations added to the region since the last backup start out as empty folders.
        if !dryRun { for loc in locations { try loc.prepare() } }
        let lock = dryRun ? nil : try RegionLock.acquire(.exclusive, in: self, now: selection.now)
        defer { lock?.release() }
        if !dryRun {
            // What a killed run left in some locations only (under the exclusive lock, so no
            // other writer's fresh key can be mistaken for a leftover).
            completePartialObjects()
            settlePartialDataKeys(needed: try neededDataKeys())
        }
        var result = ReencryptResult()
        result.layout = "\(dataShards)+\(parityShards)"

        let snaps = try snapshots()
        var index = try loadIndex()
        if !dryRun {
            result.copiesAdded = try completeReplicatedCopies()
            result.leftoverShardsRemoved = removeUnindexedShards(known: Set(index.packs.keys))
        }

        // Age of packs without a seal time: the oldest snapshot needing any of their blobs.
        var firstNeeded: [ObjectID: Date] = [:]
        for s in snaps {
            for f in [s.database] + s.documents {
                for b in f.blobs { if let p = index.blobs[b], firstNeeded[p] == nil { firstNeeded[p] = s.time } }
            }
        }
        func selected(_ p: PackEntry) -> Bool {
            if let k = selection.dataKey, p.dataKey == k { return true }
            if let age = selection.olderThan {
                let sealed = p.sealedAt.map { Date(timeIntervalSince1970: $0) } ?? firstNeeded[p.id]
                if let sealed, selection.now.timeIntervalSince(sealed) >= age { return true }
            }
            return false
        }
        let chosen = index.packs.values.filter(selected).sorted { $0.id < $1.id }
        result.packsSelected = chosen.count
        var replacedKeys = Set(chosen.map(\.dataKey))
        if let k = selection.dataKey { replacedKeys.insert(k) }

        // Packs an earlier, interrupted run already wrote: same blobs, not selected.
        var rewrittenBy: [[BlobID]: ObjectID] = [:]
        for p in index.packs.values where !selected(p) { rewrittenBy[p.blobs.map(\.id)] = p.id }
        let todo = chosen.filter { rewrittenBy[$0.blobs.map(\.id)] == nil }
        result.packsAlreadyDone = chosen.count - todo.count
        if dryRun {
            result.bytesRead = todo.reduce(0) { $0 + Int64($1.length) }
            return result
        }

        // 1. New packs, verified, indexed in checkpoints.
        if !todo.isEmpty {
            let key = try newDataKey()
            let total = todo.reduce(Int64(0)) { $0 + Int64($1.length) }
            let state = ReencryptState()
            let batch = 32
            for start in stride(from: 0, to: todo.count, by: batch) {
                let part = Array(todo[start..<min(start + batch, todo.count)])
                // Threads of their own: each waits on fsync for part of its time, and
                // dispatch would run only one per core.
                parallelForEach(max(1, min(workers, part.count)), width: workers) { [self] w in
                    var i = w
                    while i < part.count {
                        defer { i += workers }
                        do {
                            let (bytes, _) = try readPack(part[i])
                            let (fresh, sealed) = try writeSealedPack(
                                id: .random(), pack: bytes, compressed: part[i].compressed, blobs: part[i].blobs,
                                dataShards: dataShards, parityShards: parityShards, key: key)
                            try checkStoredShards(fresh, sealed)
                            state.done(fresh, read: Int64(part[i].length), written: fresh.storedBytes)
                            progress?(state.bytesRead, total)
                        } catch { state.fail("pack \(part[i].id.hex): \(error)") }
                    }
                }
                if let problem = state.firstProblem {
                    // What was written and checked so far is indexed, so a rerun keeps it.
                    if !state.isEmpty { _ = try writeIndex(IndexManifest(packs: state.takePacks()), key: key) }
                    throw RepositoryError.unreadable(
                        object: "re-encryption in region \(region)", problems: [problem, "nothing old was removed; rerun once the region is healthy"])
                }
                _ = try writeIndex(IndexManifest(packs: state.takePacks()), key: key)
            }
            result.packsRewritten = todo.count
            result.bytesRead = state.bytesRead
            result.bytesWritten = state.bytesWritten
        }

        // 2. One index of everything kept, under a fresh key; then the old indexes go.
        let oldIDs = Set(chosen.map(\.id))
        if !chosen.isEmpty || !sealingKeys(prefixes: ["index/"]).isDisjoint(with: replacedKeys) {
            let indexNames = listReplicated(prefix: "index/")
            index = try loadIndex()
            let kept = index.packs.values.filter { !oldIDs.contains($0.id) }.sorted { $0.id < $1.id }
            let key = try newDataKey()
            let name = "index/" + (try writeIndex(IndexManifest(packs: kept), key: key)).hex
            try removeOnPurpose(indexNames.filter { $0 != name })
        }

        // 3. Snapshots and reports sealed by a replaced key, re-sealed in place.
        if !replacedKeys.isEmpty {
            var sealing: DataKey?
            for prefix in ["snapshots/", "reports/"] {
                for name in listReplicated(prefix: prefix) {
                    let stale = locations.filter { loc in
                        guard let b = try? loc.get(name), let h = try? EnvelopeHeader.decode(b) else { return false }
                        return replacedKeys.contains(h.keyID)
                    }
                    if stale.isEmpty { continue }
                    let bytes = try readAuthenticCopy(name)
                    let header = try EnvelopeHeader.decode(bytes)
                    let plain = try Envelope.open(bytes, header: header, key: try dataKey(header.keyID).secret)
                    let key = try sealing ?? newDataKey()
                    sealing = key
                    let fresh = EnvelopeHeader(
                        algorithm: key.algorithm, kind: header.kind, objectID: header.objectID, keyID: key.id,
                        plaintextLength: UInt64(plain.count), nonce: key.nextNonce())
                    let sealed = try Envelope.seal(plain, header: fresh, key: key.secret)
                    for loc in locations { try loc.replace(name, sealed) }
                    if prefix == "snapshots/" { result.snapshotsResealed += 1 } else { result.reportsResealed += 1 }
                }
            }
            for loc in locations { try loc.sync() }
        }

        // 4. The old packs' shards, now named by no index.
        for p in chosen {
            for i in 0..<(p.dataShards + p.parityShards) {
                let shard = Self.shardName(p.id, i)
                for c in shardLocations(p, i) where (try? locations[c].delete(shard)) != nil { result.oldShardsRemoved += 1 }
            }
        }

        // 5. Replaced keys nothing is sealed under any more: their own objects go (a key
        // inside a key set is dropped by the next rotation, which keeps only needed keys).
        if !replacedKeys.isEmpty {
            let stillUsed = Set(try loadIndex().packs.values.map(\.dataKey)).union(sealingKeys(prefixes: ["index/", "snapshots/", "reports/"]))
                .union([config.idKey])
            var inSets = Set<ObjectID>()
            for k in replacedKeys where !stillUsed.contains(k) {
                var removed = false
                for loc in locations where (try? loc.delete("keys/\(k.hex)")) != nil { removed = true }
                if keySets.holds(k, in: self) { inSets.insert(k) } else if removed { result.dataKeysRemoved += 1 }
                forgetDataKey(k)
            }
            // Keys a rotation gathered into a set: a new set without them, read back in every
            // location, then the old sets removed; none of the replaced keys is stored any more.
            if !inSets.isEmpty {
                let rewrap = try rewrapDataKeys(dropping: inSets)
                result.dataKeysRemoved += rewrap.dropped
            }
        }
        result.seconds = Date().timeIntervalSince(t0)
        return result
    }

    /// Writes the config, keys, indexes, snapshots and reports to every location lacking a
    /// copy (a location just added to the region). Returns the copies written.
    func completeReplicatedCopies() throws -> Int {
        var added = 0
        for name in ["config"] + ["keys/", "index/", "snapshots/", "reports/"].flatMap(listReplicated) {
            let missing = locations.filter { (try? $0.size(of: name)) == .some(nil) }
            if missing.isEmpty { continue }
            let bytes = try readAuthenticCopy(name)
            for loc in missing {
                do { try loc.put(name, bytes); added += 1 } catch StorageError.alreadyExists {}
            }
        }
        return added
    }

    /// Reads every shard of `entry` back and compares it with the bytes sealed for it: the
    /// storage kept exactly what was written (an AEAD open would only repeat the sealing).
    func checkStoredShards(_ entry: PackEntry, _ sealed: [[UInt8]]) throws {
        for i in 0..<(entry.dataShards + entry.parityShards) {
            let name = Self.shardName(entry.id, i)
            guard try locations[entry.locations[i]].holds(name, exactly: sealed[i]) else {
                throw RepositoryError.unreadable(object: name, problems: ["\(locations[entry.locations[i]].name) did not return what was written"])
            }
        }
    }

    /// The data keys that seal the metadata objects under `prefixes` (any copy).
    func sealingKeys(prefixes: [String]) -> Set<ObjectID> {
        var out = Set<ObjectID>()
        for prefix in prefixes {
            for name in listReplicated(prefix: prefix) {
                for loc in locations {
                    if let b = try? loc.get(name), let h = try? EnvelopeHeader.decode(b) { out.insert(h.keyID) }
                }
            }
        }
        return out
    }

    /// Removes shards of packs no index names: what killed runs left. Only under an
    /// exclusive lock (no backup is between writing shards and indexing them).
    func removeUnindexedShards(known: Set<ObjectID>) -> Int {
        var removed = 0
        for loc in locations {
            for name in (try? loc.list(prefix: "data/")) ?? [] {
                guard let (id, _) = Self.shard(named: name), !known.contains(id) else { continue }
                if (try? loc.delete(name)) != nil { removed += 1 }
            }
        }
        return removed
    }
}

/// Progress and outcome of the concurrent pack rewrites of one batch.
private final class ReencryptState: Sendable {
    private struct State {
        var packs: [PackEntry] = []
        var read: Int64 = 0
        var written: Int64 = 0
        var problem: String?
    }
    private let state = Locked(State())
    var isEmpty: Bool { state.withLock { $0.packs.isEmpty } }
    var bytesRead: Int64 { state.withLock { $0.read } }
    var bytesWritten: Int64 { state.withLock { $0.written } }
    var firstProblem: String? { state.withLock { $0.problem } }
    func done(_ p: PackEntry, read r: Int64, written w: Int64) {
        state.withLock {
            $0.packs.append(p); $0.read += r; $0.written += w
        }
    }
    func fail(_ p: String) { state.withLock { if $0.problem == nil { $0.problem = p } } }
    func takePacks() -> [PackEntry] {
        state.withLock { s in
            defer { s.packs = [] }
            return s.packs.sorted { $0.id < $1.id }
        }
    }
}
