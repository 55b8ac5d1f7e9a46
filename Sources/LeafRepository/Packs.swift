import Foundation
import LeafConcurrency
import LeafErasure
import LeafSodium
import LeafStorage

extension Repository {
    static func shardName(_ pack: ObjectID, _ index: Int) -> String {
        "data/\(pack.hex.prefix(2))/\(pack.hex).\(index)"
    }

    /// The pack and shard index a `shardName` names; nil for any other name.
    static func shard(named name: String) -> (pack: ObjectID, index: Int)? {
        let parts = (name.split(separator: "/").last ?? "").split(separator: ".")
        guard parts.count == 2, let id = ObjectID(hex: String(parts[0])), let index = Int(parts[1]) else { return nil }
        return (id, index)
    }

    /// Erasure-codes a pack into `data + parity` shards, seals each under `key` and writes
    /// shard i to location (first id byte + i) mod locations. Returns the index entry.
    /// Every shard is durable when this returns.
    public func writePack(
        id: ObjectID, pack: [UInt8], compressed: Bool, blobs: [PackEntry.Blob],
        dataShards: Int, parityShards: Int, key: DataKey
    ) throws -> PackEntry {
        try writeSealedPack(id: id, pack: pack, compressed: compressed, blobs: blobs, dataShards: dataShards, parityShards: parityShards, key: key).entry
    }

    /// `writePack`, also returning each shard's stored bytes (for a read-back check).
    func writeSealedPack(
        id: ObjectID, pack: [UInt8], compressed: Bool, blobs: [PackEntry.Blob],
        dataShards: Int, parityShards: Int, key: DataKey
    ) throws -> (entry: PackEntry, shards: [[UInt8]]) {
        let rs = try ReedSolomon(dataShards: dataShards, parityShards: parityShards)
        let start = Int(id.bytes[0]) % locations.count
        var sealed: [[UInt8]] = []
        var nonces: [String] = []
        sealed.reserveCapacity(rs.totalShards)
        try pack.withUnsafeBytes { raw in
            try rs.encode(raw) { i, shard in
                let header = EnvelopeHeader(
                    algorithm: key.algorithm, kind: .shard, shardIndex: UInt8(i),
                    dataShards: UInt8(dataShards), parityShards: UInt8(parityShards),
                    objectID: id, keyID: key.id, plaintextLength: UInt64(pack.count), nonce: key.nextNonce())
                sealed.append(try Envelope.seal(shard, header: header, key: key.secret))
                nonces.append(hexEncode(header.nonce))
            }
        }
        let placed = (0..<sealed.count).map { (start + $0) % locations.count }
        // The shards go to different locations: write them at once so their fsyncs overlap.
        let errors = Locked([(any Error)?](repeating: nil, count: sealed.count))
        let shards = sealed
        if let k = CrashPoint.afterShards {
            // Debug builds only: one at a time, and the process dies once k are durable.
            for i in shards.indices {
                do { try locations[placed[i]].put(Self.shardName(id, i), shards[i]) } catch { errors.withLock { $0[i] = error } }
                if i + 1 == k { CrashPoint.die() }
            }
        } else {
            parallelForEach(shards.count, width: shards.count) { [locations] i in
                do { try locations[placed[i]].put(Self.shardName(id, i), shards[i]) } catch { errors.withLock { $0[i] = error } }
            }
        }
        // Up to `tolerableFailures` locations may refuse their shard (a full disk, a broken
        // share): the pack still has data shards enough to be read, and verify --repair
        // writes the missing ones once the location takes writes again.
        var refused: [String] = []
        var firstError: (any Error)?
        for (i, e) in errors.value.enumerated() {
            guard let e else { continue }
            if case StorageError.alreadyExists = e {
                // A pack id is random and new: an existing shard means a bug or an attack; never overwrite it.
                throw RepositoryError.malformed("shard \(Self.shardName(id, i)) already exists in \(locations[placed[i]].name)")
            }
            refused.append("\(e)")
            firstError = firstError ?? e
        }
        if let firstError {
            guard refused.count <= min(tolerableFailures, parityShards) else {
                if refused.count == 1 { throw firstError }
                throw RepositoryError.insufficientLocations(
                    region: region, written: sealed.count - refused.count, needed: sealed.count - min(tolerableFailures, parityShards), problems: refused)
            }
            noteWriteProblems(refused)
        }
        return (
            PackEntry(
                id: id, dataKey: key.id, length: pack.count, compressed: compressed,
                dataShards: dataShards, parityShards: parityShards, locations: placed, blobs: blobs, nonces: nonces,
                sealedAt: clock.now.timeIntervalSince1970.rounded()), shards
        )
    }

    /// Where shard i may be: the location the index records, then this region's own
    /// placement (a region with another number of locations places shards differently).
    func shardLocations(_ entry: PackEntry, _ i: Int) -> [Int] {
        var out: [Int] = []
        if entry.locations[i] < locations.count { out.append(entry.locations[i]) }
        let own = (Int(entry.id.bytes[0]) + i) % locations.count
        if !out.contains(own) { out.append(own) }
        return out
    }

    func getShard(_ name: String, from candidates: [Int]) throws -> [UInt8] {
        var last: (any Error)?
        for c in candidates {
            do { return try locations[c].get(name) } catch let e as StorageError where e.isNotFound { last = e }
        }
        throw last ?? StorageError.notFound(location: region, key: name)
    }

    /// What reading a pack found wrong with its shards and worked around.
    public struct ShardReport: Sendable {
        /// One line per shard that was missing or damaged and read around.
        public var repaired: [String] = []
    }

    /// Reads a pack: data shards first, parity only for the ones missing or failing
    /// authentication; rebuilds the pack if at least `data` shards are intact.
    public func readPack(_ entry: PackEntry) throws -> (bytes: [UInt8], report: ShardReport) {
        try readPack(entry, alsoFrom: [])
    }

    /// Reads a pack, taking shards this region cannot supply from `others` (regions that
    /// are copies of this one): when both regions are damaged, their surviving shards together
    /// still rebuild the pack.
    public func readPack(_ entry: PackEntry, alsoFrom others: [Repository]) throws -> (bytes: [UInt8], report: ShardReport) {
        let key = try dataKey(entry.dataKey)
        let rs = try ReedSolomon(dataShards: entry.dataShards, parityShards: entry.parityShards)
        var shards = [[UInt8]?](repeating: nil, count: rs.totalShards)
        var report = ShardReport()
        var problems: [String] = []
        var intact = 0
        var next = 0
        while intact < entry.dataShards && next < rs.totalShards {
            let i = next; next += 1
            let name = Self.shardName(entry.id, i)
            let candidates = shardLocations(entry, i)
            let loc = candidates.first ?? 0
            guard !candidates.isEmpty else { problems.append("shard \(i): location \(entry.locations[i]) is not configured"); continue }
            do {
                let bytes = try getShard(name, from: candidates)
                let header = try EnvelopeHeader.decode(bytes)
                guard header.describes(shard: i, of: entry) else {
                    throw RepositoryError.malformed("header does not match the index")
                }
                shards[i] = try Envelope.open(bytes, header: header, key: key.secret)
                intact += 1
            } catch SodiumError.authenticationFailed {
                let p = "\(locations[loc].name): \(name) failed authentication (corrupt)"
                problems.append(p); report.repaired.append(p)
            } catch {
                let p = "\(locations[loc].name): \(name): \(error)"
                problems.append(p); report.repaired.append(p)
            }
        }
        // Shards this region lacks, from the other regions.
        for other in others where intact < entry.dataShards {
            for i in 0..<rs.totalShards where shards[i] == nil && intact < entry.dataShards {
                let name = Self.shardName(entry.id, i)
                guard let bytes = try? other.getShard(name, from: other.shardLocations(entry, i)),
                    let h = try? EnvelopeHeader.decode(bytes), h.describes(shard: i, of: entry),
                    let plain = try? Envelope.open(bytes, header: h, key: key.secret)
                else { continue }
                shards[i] = plain
                intact += 1
                report.repaired.append("\(other.region): \(name) used in place of this region's copy")
            }
        }
        guard intact >= entry.dataShards else {
            throw RepositoryError.unreadable(object: "pack \(entry.id.hex)", problems: problems)
        }
        // Unread parity beyond what was needed is neither missing nor present: mark it absent.
        if shards.prefix(entry.dataShards).contains(where: { $0 == nil }) {
            try rs.reconstruct(&shards)
        }
        let data = shards.prefix(entry.dataShards).compactMap { $0 }
        guard data.count == entry.dataShards else { throw RepositoryError.malformed("pack \(entry.id.hex): reconstruction left a data shard missing") }
        return (rs.join(Array(data), length: entry.length), report)
    }
}
