import Foundation
import LeafArchive
import LeafSodium
import LeafStorage

extension Repository {
    /// Packs whose shards are stored but which no index names: the work of a backup that
    /// was interrupted after writing data and before its index checkpoint. Each such pack
    /// with at least `data` authentic shards is read, listed and indexed so the next backup
    /// reuses it instead of storing the same data again. Returns the packs adopted.
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
                   h.kind == .shard, h.objectID == id { header = h; break }
            }
            guard let h = header, shards.count >= Int(h.dataShards) else { continue }
            let total = Int(h.dataShards) + Int(h.parityShards)
            let start = Int(id.bytes[0]) % locations.count
            let locs = (0..<total).map { shards[$0] ?? (start + $0) % locations.count }
            let probe = PackEntry(id: id, dataKey: h.keyID, length: Int(h.plaintextLength), compressed: false,
                                  dataShards: Int(h.dataShards), parityShards: Int(h.parityShards), locations: locs, blobs: [])
            guard let (bytes, _) = try? readPack(probe) else { continue }
            var blobs: [PackEntry.Blob] = []
            do {
                try TarReader.forEachEntry(in: bytes) { name, data in
                    if let b = BlobID(hex: name) { blobs.append(PackEntry.Blob(id: b, length: data.count)) }
                }
            } catch { continue }
            let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
            adopted.append(PackEntry(id: id, dataKey: h.keyID, length: Int(h.plaintextLength),
                                     compressed: Array(bytes.prefix(4)) == zstdMagic,
                                     dataShards: Int(h.dataShards), parityShards: Int(h.parityShards), locations: locs, blobs: blobs))
        }
        if !adopted.isEmpty { _ = try writeIndex(IndexManifest(packs: adopted), key: key) }
        return adopted
    }
}
