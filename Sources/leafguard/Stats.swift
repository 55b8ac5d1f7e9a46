import ArgumentParser
import Foundation
import LeafJobs
import LeafRepository

extension Leafguard {
    /// `leafguard stats [--region R] [--json]`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a region holds: snapshots, logical and stored bytes, deduplication and compression, packs, data keys.",
            discussion: "Example: leafguard stats --region backup --json --config /etc/leafguard/leafguard.yml")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Region (default: primary).") var region: String?
        @Flag(help: "Print one JSON object.") var json = false

        /// snake_case, as every JSON leafguard prints.
        struct Figures: Encodable {
            let region: String
            let snapshots: Int
            let logicalBytes: Int64
            let uniqueBytes: Int64
            let packedBytes: Int64
            let storedBytes: Int64
            let packs: Int
            let compressedPacks: Int
            let dataKeys: Int
            let deduplicationRatio: Double
            let compressionRatio: Double
            enum CodingKeys: String, CodingKey {
                case region, snapshots, packs
                case logicalBytes = "logical_bytes"
                case uniqueBytes = "unique_bytes"
                case packedBytes = "packed_bytes"
                case storedBytes = "stored_bytes"
                case compressedPacks = "compressed_packs"
                case dataKeys = "data_keys"
                case deduplicationRatio = "deduplication_ratio"
                case compressionRatio = "compression_ratio"
            }
        }

        func run() throws {
            let (_, name, repo) = try global.openRegion(region)
            let snapshots = try repo.snapshots()
            let index = try repo.loadIndex()
            let packs = Array(index.packs.values)
            // Each blob once, in the pack the index places it in: what deduplication keeps.
            var unique: Int64 = 0
            for p in packs { for b in p.blobs where index.blobs[b.id] == p.id { unique += Int64(b.length) } }
            let packed = packs.reduce(Int64(0)) { $0 + Int64($1.length) }
            let stored = packs.reduce(Int64(0)) { $0 + $1.storedBytes }
            let logical = snapshots.reduce(Int64(0)) { $0 + $1.totalBytes }
            let census = repo.keyCensus()
            let f = Figures(
                region: name, snapshots: snapshots.count, logicalBytes: logical, uniqueBytes: unique, packedBytes: packed, storedBytes: stored,
                packs: packs.count, compressedPacks: packs.filter(\.compressed).count, dataKeys: census.byVersion.values.reduce(0, +),
                deduplicationRatio: unique > 0 ? Double(logical) / Double(unique) : 1, compressionRatio: packed > 0 ? Double(unique) / Double(packed) : 1)
            if json { print(try jsonString(f)); return }
            func b(_ n: Int64) -> String { Progress.format(n, unit: "B") }
            print("region '\(name)': \(f.snapshots) snapshot(s), \(f.packs) pack(s) (\(f.compressedPacks) compressed), \(f.dataKeys) data key(s)")
            print("  logical   \(b(logical))  (every snapshot's files, counted in each)")
            print("  unique    \(b(unique))  (each blob once; deduplication \(String(format: "%.2f", f.deduplicationRatio))x)")
            print("  packed    \(b(packed))  (after compression; \(String(format: "%.2f", f.compressionRatio))x)")
            print("  stored    \(b(stored))  (every shard, parity included)")
        }
    }
}
