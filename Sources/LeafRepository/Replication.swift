import Foundation
import LeafConcurrency
import LeafErasure
import LeafSodium
import LeafStorage

/// What a replication did.
public struct ReplicationResult: Sendable {
    /// Shards copied as they were.
    public var shardsCopied = 0
    /// Shards the source lacked, rebuilt from the pack's other shards and copied.
    public var shardsRebuilt = 0
    /// Shard bytes copied.
    public var bytesCopied: Int64 = 0
    /// Replicated objects (config, keys, indexes, snapshots, audit objects, …) copied.
    public var metadataCopied = 0
    /// Snapshots copied.
    public var snapshotsCopied = 0
    /// Snapshots the target holds afterwards.
    public var snapshotsInTarget = 0
    /// Shards that could not be copied or rebuilt (the target has less redundancy for them).
    public var problems: [String] = []
}

extension Repository {
    /// Copies to `target` (another region's locations) every object it lacks, without
    /// re-encrypting or re-compressing anything: the config and wrapped keys, then each
    /// pack's shards (authenticated before they are written; a missing or corrupt source
    /// shard is rebuilt from the others and re-sealed under its recorded key and nonce,
    /// which reproduces the original bytes), then the indexes, and the snapshots last, so
    /// the target lists a snapshot only once everything it needs is there.
    ///
    /// Idempotent and resumable: objects already in the target are skipped, and writes
    /// never overwrite.
    ///
    /// `signedCopyIsAuthentic` judges a copy of an audit object (signed or sealed under the
    /// audit key, which this layer does not hold): only a copy it accepts is spread, so an
    /// object planted in one source location never reaches the target.
    public func replicate(
        to target: [any ObjectStore], workers: Int = 8, signedCopyIsAuthentic: @escaping (String, [UInt8]) -> Bool,
        progress: @escaping @Sendable (_ bytesCopied: Int64, _ packsDone: Int64, _ packsTotal: Int64) -> Void = { _, _, _ in }
    ) throws -> ReplicationResult {
        try checkSameRepository(target)
        for loc in target { try loc.prepare() }
        completePartialObjects()  // a killed run's objects reach every source location before they are copied
        let result = ReplicationState()

        // 1. Identity: config, key sets and the wrapped keys something stored needs (checked
        // by opening them); a key object a killed run left behind is not spread.
        let needed = try neededDataKeys()
        let identity =
            ["config"]
            + listReplicated(prefix: "keys/").filter { name in
                KeySet.isSet(name) || ObjectID(hex: String(name.dropFirst(5))).map(needed.contains) == true
            }
        for name in identity where name.hasPrefix("keys/") {
            guard let id = ObjectID(hex: String(name.dropFirst(5))) else { continue }
            _ = try dataKey(id)
        }
        try copyReplicated(identity, to: target, result: result)

        // 2. Packs, index by index; an index goes over once all its packs have.
        let indexNames = listReplicated(prefix: "index/")
        let packsTotal = Int64((try? loadIndex())?.packs.count ?? 0)
        let packsDone = Locked(Int64(0))
        for name in indexNames {
            guard let id = ObjectID(hex: String(name.dropFirst(6))) else { continue }
            let manifest = try IndexManifest.decode(try readSealed(name, kind: .index, id: id))
            let packs = manifest.packs
            let failures = ReplicationState()
            // Threads of their own: each waits on the network or the disk most of the time,
            // and dispatch would run only one per core (two requests in flight here).
            parallelForEach(max(1, min(workers, packs.count)), width: workers) { [self] w in
                var p = w
                while p < packs.count {
                    do { try copyPack(packs[p], to: target, result: result) } catch { failures.problem("pack \(packs[p].id.hex): \(error)") }
                    let done = packsDone.withLock {
                        $0 += 1; return $0
                    }
                    progress(result.bytes, done, max(packsTotal, done))
                    p += workers
                }
            }
            if !failures.problems.isEmpty {
                result.merge(failures)
                continue  // the index, and snapshots needing it, wait for a later run
            }
            try copyReplicated([name], to: target, result: result)
        }
        // 3. Snapshots, last, and only once every index (so every pack) has arrived.
        let snapshotNames = listReplicated(prefix: "snapshots/")
        if Set(indexNames).isSubset(of: Self.names(in: target, prefix: "index/")) {
            let before = Set(Self.names(in: target, prefix: "snapshots/"))
            try copyReplicated(snapshotNames, to: target, result: result)
            result.snapshots = snapshotNames.filter { !before.contains($0) }.count
        }
        // 4. Archived reports (sealed) and audit objects (signed, checked by `audit verify`):
        // everything a restore, a verify or an audit check needs is in both regions.
        try copyReplicated(listReplicated(prefix: "reports/"), to: target, result: result)
        try copyReplicated(listReplicated(prefix: "audit/"), to: target, result: result, signedCheck: signedCopyIsAuthentic)
        var out = result.snapshot()
        out.snapshotsInTarget = Self.names(in: target, prefix: "snapshots/").count
        return out
    }

    /// Throws `foreignRepository` when the target's locations hold another repository's
    /// config (every copy found there names another id: one odd copy is damage, not identity).
    public func checkSameRepository(_ target: [any ObjectStore]) throws {
        var ids: [ObjectID] = []
        for loc in target {
            if let bytes = try? loc.get("config"), let h = try? EnvelopeHeader.decode(bytes) { ids.append(h.objectID) }
        }
        if let other = ids.first, ids.allSatisfy({ $0 == other }), other != config.id {
            let name = target.first.map { String($0.name.prefix { $0 != "/" }) } ?? "target"
            throw RepositoryError.foreignRepository(region: name, holds: other.hex, expected: config.id.hex, expectedFrom: "region '\(region)'")
        }
    }

    /// Copies replicated objects (one authenticated source copy) to every target location
    /// lacking them. With `signedCheck` (audit objects), a copy it accepts is the source, and
    /// a name no location holds authentically (planted) is not copied at all.
    private func copyReplicated(
        _ names: [String], to target: [any ObjectStore], result: ReplicationState, signedCheck: ((String, [UInt8]) -> Bool)? = nil
    ) throws {
        for name in names {
            let missing = target.filter { (try? $0.size(of: name)) == .some(nil) }
            if missing.isEmpty { continue }
            let bytes: [UInt8]
            if let signedCheck {
                let authentic = try? readReplicated(name) { bytes in
                    guard signedCheck(name, bytes) else { throw RepositoryError.malformed("\(name): the copy is not authentic") }
                    return bytes
                }
                guard let authentic else { continue }
                bytes = authentic
            } else {
                bytes = try readAuthenticCopy(name)
            }
            var problems: [String] = []
            for loc in missing {
                do { try loc.put(name, bytes) } catch StorageError.alreadyExists {} catch { problems.append("\(error)") }
            }
            if !problems.isEmpty {
                throw RepositoryError.insufficientLocations(
                    region: "target", written: missing.count - problems.count,
                    needed: missing.count, problems: problems)
            }
            result.metadata()
        }
    }

    private func copyPack(_ entry: PackEntry, to target: [any ObjectStore], result: ReplicationState) throws {
        let key = try dataKey(entry.dataKey)
        var rebuilt: [[UInt8]]?
        for i in 0..<(entry.dataShards + entry.parityShards) {
            let name = Self.shardName(entry.id, i)
            let dest = target[(Int(entry.id.bytes[0]) + i) % target.count]
            if try dest.size(of: name) != nil { continue }
            var bytes: [UInt8]?
            if let b = try? getShard(name, from: shardLocations(entry, i)), authentic(b, entry: entry, index: i, key: key) {
                bytes = b
            } else {
                // The source lacks this shard: rebuilt from the others (under its recorded
                // nonce, or a fresh one where none is recorded) and written back to the source
                // first, so the pack is complete in both regions, never copied short.
                let all = try rebuilt ?? rebuildShards(entry, key: key, others: [])
                rebuilt = all
                bytes = all[i]
                let home = locations[shardLocations(entry, i).first ?? 0]
                if (try? home.size(of: name)) ?? nil != nil {
                    try? replaceShard(name, at: home, with: all[i], corrupt: true)
                } else {
                    try? home.put(name, all[i])
                }
                result.rebuiltOne()
            }
            guard let bytes else { continue }
            do { try dest.put(name, bytes) } catch StorageError.alreadyExists { continue }
            result.copied(bytes.count)
        }
    }

    func authentic(_ bytes: [UInt8], entry: PackEntry, index: Int, key: DataKey) -> Bool {
        guard let h = try? EnvelopeHeader.decode(bytes), h.describes(shard: index, of: entry) else { return false }
        return (try? Envelope.open(bytes, header: h, key: key.secret)) != nil
    }
}

/// The counts and problems of one replication, from concurrent pack copies.
final class ReplicationState: Sendable {
    private let r = Locked(ReplicationResult())
    var snapshots: Int {
        get { r.withLock { $0.snapshotsCopied } }
        set { r.withLock { $0.snapshotsCopied = newValue } }
    }
    var bytes: Int64 { r.withLock { $0.bytesCopied } }
    var problems: [String] { r.withLock { $0.problems } }
    func copied(_ n: Int) {
        r.withLock {
            $0.shardsCopied += 1; $0.bytesCopied += Int64(n)
        }
    }
    func rebuiltOne() { r.withLock { $0.shardsRebuilt += 1 } }
    func metadata() { r.withLock { $0.metadataCopied += 1 } }
    func problem(_ p: String) { r.withLock { $0.problems.append(p) } }
    func merge(_ o: ReplicationState) { for p in o.problems { problem(p) } }
    func snapshot() -> ReplicationResult { r.value }
}
