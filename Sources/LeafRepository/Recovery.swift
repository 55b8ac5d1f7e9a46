import Foundation
import LeafArchive
import LeafErasure
import LeafSodium
import LeafStorage

extension Repository {
    /// Packs whose shards are stored but which no index names: the work of a backup that
    /// was interrupted after writing data and before its index checkpoint. Each such pack
    /// with at least `data` authentic shards is read, **completed** (every missing or
    /// corrupt shard re-encoded, sealed, written and read back, so it is indexed only at
    /// full redundancy, with every shard's nonce recorded for repair) and indexed, so the
    /// next backup reuses it instead of storing the same data again. A pack that cannot be
    /// read or completed is left out: its blobs are stored again. Returns the packs adopted.
    ///
    /// Only one backup may write to a region at a time (leafguard's job lock sees to that),
    /// so a pack without an index is never one still being written.
    public func adoptUnindexedPacks(known: Set<ObjectID>, key: DataKey) throws -> [PackEntry] {
        // pack id -> shard index -> location index
        var found: [ObjectID: [Int: Int]] = [:]
        for (li, loc) in locations.enumerated() {
            guard let names = try? loc.list(prefix: "data/") else { continue }
            for name in names {
                guard let (id, shard) = Self.shard(named: name), !known.contains(id) else { continue }
                found[id, default: [:]][shard] = li
            }
        }
        var adopted: [PackEntry] = []
        for (id, shards) in found.sorted(by: { $0.key < $1.key }) {
            // The first readable shard's header says the pack's layout, key and length.
            var header: EnvelopeHeader?
            for (s, li) in shards {
                if let bytes = try? locations[li].get(Self.shardName(id, s)), let h = try? EnvelopeHeader.decode(bytes),
                    h.kind == .shard, h.objectID == id
                {
                    header = h; break
                }
            }
            guard let h = header, shards.count >= Int(h.dataShards) else { continue }
            let total = Int(h.dataShards) + Int(h.parityShards)
            let start = Int(id.bytes[0]) % locations.count
            let locs = (0..<total).map { shards[$0] ?? (start + $0) % locations.count }
            let probe = PackEntry(
                id: id, dataKey: h.keyID, length: Int(h.plaintextLength), compressed: false,
                dataShards: Int(h.dataShards), parityShards: Int(h.parityShards), locations: locs, blobs: [])
            guard let (bytes, _) = try? readPack(probe), let complete = try? completePack(probe, plaintext: bytes) else { continue }
            var blobs: [PackEntry.Blob] = []
            do {
                try TarReader.forEachEntry(in: bytes) { name, data in
                    if let b = BlobID(hex: name) { blobs.append(PackEntry.Blob(id: b, length: data.count)) }
                }
            } catch { continue }
            let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
            adopted.append(
                PackEntry(
                    id: id, dataKey: h.keyID, length: Int(h.plaintextLength),
                    compressed: Array(bytes.prefix(4)) == zstdMagic,
                    dataShards: Int(h.dataShards), parityShards: Int(h.parityShards), locations: locs, blobs: blobs,
                    nonces: complete.nonces, sealedAt: complete.sealedAt))
        }
        if !adopted.isEmpty { _ = try writeIndex(IndexManifest(packs: adopted), key: key) }
        return adopted
    }

    /// Makes every shard of `entry` present and authentic in its location: an authentic one
    /// stays as it is (its nonce read from its header), a missing or corrupt one is
    /// re-encoded from `plaintext`, sealed under a fresh random nonce (the counter of the
    /// session that sealed the others is gone) and written before being read back. Returns
    /// every shard's nonce, in order, and when the pack was sealed.
    func completePack(_ entry: PackEntry, plaintext: [UInt8]) throws -> (nonces: [String], sealedAt: Double) {
        let key = try dataKey(entry.dataKey)
        let rs = try ReedSolomon(dataShards: entry.dataShards, parityShards: entry.parityShards)
        var encoded: [[UInt8]]?
        var nonces: [String] = []
        for i in 0..<(entry.dataShards + entry.parityShards) {
            let name = Self.shardName(entry.id, i)
            let candidates = shardLocations(entry, i)
            if let bytes = try? getShard(name, from: candidates), authentic(bytes, entry: entry, index: i, key: key),
                let h = try? EnvelopeHeader.decode(bytes)
            {
                nonces.append(hexEncode(h.nonce))
                continue
            }
            let shards = encoded ?? plaintext.withUnsafeBytes { rs.encode($0) }
            encoded = shards
            let nonce = Sodium.randomBytes(key.algorithm.nonceLength)
            let header = EnvelopeHeader(
                algorithm: key.algorithm, kind: .shard, shardIndex: UInt8(i),
                dataShards: UInt8(entry.dataShards), parityShards: UInt8(entry.parityShards),
                objectID: entry.id, keyID: entry.dataKey, plaintextLength: UInt64(entry.length), nonce: nonce)
            let sealed = try Envelope.seal(shards[i], header: header, key: key.secret)
            let location = locations[candidates.first ?? (Int(entry.id.bytes[0]) + i) % locations.count]
            if (try? location.size(of: name)) ?? nil != nil {
                try replaceShard(name, at: location, with: sealed, corrupt: true)
            } else {
                try location.put(name, sealed)
            }
            guard try location.holds(name, exactly: sealed) else {
                throw RepositoryError.malformed("\(location.name): \(name) reads back differently after it was written")
            }
            nonces.append(hexEncode(nonce))
        }
        return (nonces, clock.now.timeIntervalSince1970)
    }

    /// The data keys something stored needs: the id key, every indexed pack's key, and the
    /// key named in the header of every index, snapshot and archived report.
    public func neededDataKeys(index: [ObjectID: PackEntry]? = nil) throws -> Set<ObjectID> {
        var needed: Set<ObjectID> = [config.idKey]
        for p in (try index ?? loadIndex().packs).values { needed.insert(p.dataKey) }
        for prefix in ["index/", "snapshots/", "reports/"] {
            for name in listReplicated(prefix: prefix) {
                for loc in locations {
                    // The header is all that is needed; any copy's will do.
                    guard let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes) else { continue }
                    needed.insert(h.keyID)
                    break
                }
            }
        }
        return needed
    }

    /// Indexes, snapshots and archived reports a killed run left in some locations only,
    /// completed to every location from an authentic copy. What a tombstone names is being
    /// removed, not written, and is left alone; data keys are settled by
    /// `settlePartialDataKeys`, which knows which are needed. Never removes anything, so it
    /// is safe beside a concurrent writer (whose own later put of the same object then
    /// finds it there, which counts as written). Returns how many were completed.
    @discardableResult
    public func completePartialObjects() -> Int {
        var listed: [Set<String>?] = []
        for loc in locations {
            // A location that cannot be listed is skipped: nothing is known to be missing there.
            let names = try? ["index/", "snapshots/", "reports/"].flatMap { try loc.list(prefix: $0) }
            listed.append(names.map(Set.init))
        }
        let removing = Set(tombstones().flatMap(\.removes))
        var counts: [String: Int] = [:]
        for names in listed.compactMap({ $0 }) { for n in names { counts[n, default: 0] += 1 } }
        let reachable = listed.compactMap { $0 }.count
        var completed = 0
        for (name, n) in counts.sorted(by: { $0.key < $1.key }) where n < reachable && !removing.contains(name) {
            guard let bytes = try? readAuthenticCopy(name) else { continue }
            var wrote = false
            for (i, loc) in locations.enumerated() where listed[i].map({ !$0.contains(name) }) ?? false {
                if (try? loc.put(name, bytes)) != nil { wrote = true }
            }
            if wrote { completed += 1 }
        }
        return completed
    }

    /// Single data-key objects a killed run left in some locations only: completed to every
    /// location when something needs the key (`needed`, plus `keep`: the running session's
    /// own), removed where they are when nothing does. Returns (completed, removed).
    @discardableResult
    public func settlePartialDataKeys(needed: Set<ObjectID>, keep: Set<ObjectID> = []) -> (completed: Int, removed: Int) {
        var completed = 0
        var removed = 0
        for name in listReplicated(prefix: "keys/") where !KeySet.isSet(name) {
            guard let id = ObjectID(hex: String(name.dropFirst(5))) else { continue }
            let holders = locations.filter { ((try? $0.size(of: name)) ?? nil) != nil }
            guard holders.count < locations.count else { continue }
            if needed.contains(id) || keep.contains(id) {
                guard let bytes = try? readAuthenticCopy(name) else { continue }
                for loc in locations where !holders.contains(where: { $0.name == loc.name }) { try? loc.put(name, bytes) }
                completed += 1
            } else {
                for loc in holders { try? loc.delete(name) }
                removed += 1
            }
        }
        return (completed, removed)
    }
}
