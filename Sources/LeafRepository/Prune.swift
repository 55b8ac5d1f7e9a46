import Foundation
import LeafStorage

/// What prune removed, or with `dryRun` would remove.
public struct PruneReport: Sendable {
    /// Snapshots kept, with the rules that keep each.
    public var kept: [(id: ObjectID, time: Date, reasons: [String])] = []
    /// Snapshots removed (or that would be).
    public var forgotten: [(id: ObjectID, time: Date)] = []
    /// Packs no kept snapshot needs, removed (or that would be).
    public var packsRemoved = 0
    /// Packs a kept snapshot still needs.
    public var packsKept = 0
    /// Shard bytes removed, parity included.
    public var bytesFreed: Int64 = 0
    /// Whether nothing was removed: the report says what would be.
    public var dryRun = false
}

extension Repository {
    /// Forgets the snapshots `policy` does not keep and removes the packs that no kept
    /// snapshot needs, under an exclusive region lock (a running backup holds a shared one,
    /// so prune gives up rather than remove what that backup is about to name).
    ///
    /// Order, so that no listed snapshot ever lacks data and nothing needed is removed
    /// first: forgotten snapshots, then a new index of the kept packs, then the old
    /// indexes, then the shards of packs nothing needs. A pack of which any blob is still
    /// needed is kept whole.
    public func prune(policy: RetentionPolicy, dryRun: Bool, now: Date? = nil) throws -> PruneReport {
        let now = now ?? clock.now
        precondition(!policy.keepsNothing, "a policy that keeps nothing is rejected when jobs load")
        let lock = dryRun ? nil : try RegionLock.acquire(.exclusive, in: self, now: now)
        defer { lock?.release() }
        if !dryRun {
            // What a killed run left in some locations only (under the exclusive lock, so no
            // other writer's fresh key can be mistaken for a leftover).
            completePartialObjects()
            settlePartialDataKeys(needed: try neededDataKeys())
        }
        var report = PruneReport()
        report.dryRun = dryRun
        let snaps = try snapshots()
        let keep = policy.select(snaps.map { ($0.id, $0.time) })
        for s in snaps.reversed() {
            if let reasons = keep[s.id] { report.kept.append((s.id, s.time, reasons)) } else { report.forgotten.append((s.id, s.time)) }
        }
        let indexNames = listReplicated(prefix: "index/")
        let index = try loadIndex()
        var needed = Set<BlobID>()
        for s in snaps where keep[s.id] != nil { for f in [s.database] + s.documents { needed.formUnion(f.blobs) } }
        let keptPacks = index.packs.values.filter { p in p.blobs.contains { needed.contains($0.id) } }
        let removed = index.packs.values.filter { p in !p.blobs.contains { needed.contains($0.id) } }
        report.packsKept = keptPacks.count
        report.packsRemoved = removed.count
        report.bytesFreed = removed.reduce(0) { $0 + $1.storedBytes }
        if dryRun { return report }

        try removeOnPurpose(report.forgotten.map { "snapshots/\($0.id.hex)" })
        if !removed.isEmpty || indexNames.count > 1 {
            let key = try newDataKey()
            _ = try writeIndex(IndexManifest(packs: keptPacks.sorted { $0.id < $1.id }), key: key)
            try removeOnPurpose(indexNames)
        }
        for p in removed {
            for i in 0..<(p.dataShards + p.parityShards) {
                let name = Self.shardName(p.id, i)
                for c in shardLocations(p, i) { try? locations[c].delete(name) }
            }
        }
        return report
    }
}

extension Repository {
    /// Forgets the snapshots `ids` (full ids, as `snapshotIDs` lists them) under an
    /// exclusive region lock: their snapshot objects go, by tombstone, and the data only they
    /// used stays until the next prune (which removes the packs no snapshot needs). Returns
    /// the ids forgotten; an id the region does not list is an error naming it, and nothing
    /// is removed.
    @discardableResult
    public func forget(_ ids: [ObjectID], now: Date? = nil) throws -> [ObjectID] {
        let lock = try RegionLock.acquire(.exclusive, in: self, now: now ?? clock.now)
        defer { lock.release() }
        let listed = Set(snapshotIDs())
        if let absent = ids.first(where: { !listed.contains($0) }) { throw RepositoryError.snapshotNotFound(absent.hex) }
        let unique = Array(Set(ids)).sorted()
        try removeOnPurpose(unique.map { "snapshots/\($0.hex)" })
        return unique
    }

}

extension Repository {
    /// Whether every blob of every snapshot the region lists is in an index the region
    /// holds. Then an index the region's head records but no location holds was superseded,
    /// not lost: a prune or re-encryption in this region rewrote it, and the region was
    /// rebuilt from another before that was replicated. Its absence loses nothing. False
    /// when a snapshot or the index cannot be read.
    public func everySnapshotIndexed() -> Bool {
        guard let index = try? loadIndex(), let snapshots = try? snapshots() else { return false }
        return snapshots.allSatisfy { s in ([s.database] + s.documents).allSatisfy { $0.blobs.allSatisfy { index.blobs[$0] != nil } } }
    }
}
