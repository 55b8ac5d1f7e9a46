import Foundation
import LeafErasure
import LeafSodium
import LeafTime

/// Where a pack's shards are and what blobs it holds. Stored in index objects.
public struct PackEntry: Codable, Sendable, Equatable {
    /// One blob of a pack: its keyed id and its length in the pack.
    public struct Blob: Codable, Sendable, Equatable {
        /// The blob's keyed id.
        public let id: BlobID
        /// Its length in bytes.
        public let length: Int
        /// A blob with the given parts.
        public init(id: BlobID, length: Int) { self.id = id; self.length = length }
    }
    /// The pack's id (and every shard's object id).
    public let id: ObjectID
    /// The data key that sealed its shards.
    public let dataKey: ObjectID
    /// Length of the pack (the tar archive, zstd-compressed or not).
    public let length: Int
    /// Whether the tar archive is zstd-compressed.
    public let compressed: Bool
    /// Data shards in its layout.
    public let dataShards: Int
    /// Parity shards in its layout.
    public let parityShards: Int
    /// Location index of shard i.
    public let locations: [Int]
    /// The blobs it holds, in order.
    public let blobs: [Blob]
    /// The nonce that sealed shard i (hex). A lost shard is rebuilt from the others and
    /// re-sealed under the same key and nonce: the identical ciphertext, never a new message.
    public var nonces: [String]?
    /// When the shards were sealed, in seconds since 1970 (a number: indexes list packs by
    /// the ten thousand and dates decode slowly). Absent in packs written before it was
    /// recorded. What `reencrypt`'s `older_than` measures, so re-encrypted data counts as new.
    public var sealedAt: Double?

    /// A pack entry with the given parts.
    public init(
        id: ObjectID, dataKey: ObjectID, length: Int, compressed: Bool, dataShards: Int, parityShards: Int,
        locations: [Int], blobs: [Blob], nonces: [String]? = nil, sealedAt: Double? = nil
    ) {
        self.id = id; self.dataKey = dataKey; self.length = length; self.compressed = compressed
        self.dataShards = dataShards; self.parityShards = parityShards; self.locations = locations
        self.blobs = blobs; self.nonces = nonces; self.sealedAt = sealedAt
    }

    /// Bytes of shard data this pack occupies in a region, parity included (before sealing).
    public var storedBytes: Int64 {
        Int64(ReedSolomon.shardLength(forObjectOfLength: length, dataShards: dataShards) * (dataShards + parityShards))
    }

    enum CodingKeys: String, CodingKey {
        case id, length, compressed, locations, blobs, nonces
        case dataKey = "data_key"
        case dataShards = "data_shards"
        case parityShards = "parity_shards"
        case sealedAt = "sealed_at"
    }
}

/// An index object: packs written by one backup session (a checkpoint).
public struct IndexManifest: Codable, Sendable {
    /// The manifest's format version (1).
    public var version = 1
    /// The packs the session wrote.
    public var packs: [PackEntry]
    /// An index of `packs`.
    public init(packs: [PackEntry]) { self.packs = packs }
}

/// One file in a snapshot and the blobs that make it, in order.
public struct SnapshotFile: Codable, Sendable, Equatable {
    /// Its path in the data folder (`planner.db`, `documents/…`).
    public let path: String
    /// Its size in bytes.
    public let size: Int64
    /// Its SHA-256 (hex), which a restore checks.
    public let sha256: String
    /// Its modification time, in seconds since 1970.
    public let modified: Double
    /// Permission bits (st_mode & 0o7777) at backup time; absent in snapshots from before they were kept.
    public let mode: Int?
    /// The blobs that make it, in order.
    public let blobs: [BlobID]
    /// A file with the given parts.
    public init(path: String, size: Int64, sha256: String, modified: Double, mode: Int? = nil, blobs: [BlobID]) {
        self.path = path; self.size = size; self.sha256 = sha256; self.modified = modified; self.mode = mode; self.blobs = blobs
    }
}

/// A document the planner's `documents` table names that could not be captured as recorded.
public struct SnapshotProblem: Codable, Sendable, Equatable {
    /// The path the `documents` table records.
    public let path: String
    /// `missing`, `altered` (SHA-256 differs from documents.sha256) or `unreadable`.
    public let problem: String
    /// What was found, in words.
    public let detail: String
    /// A problem with the given parts.
    public init(path: String, problem: String, detail: String) { self.path = path; self.problem = problem; self.detail = detail }
}

/// A snapshot: a consistent copy of the planner data directory at one instant.
public struct SnapshotManifest: Codable, Sendable {
    /// The manifest's format version (1).
    public var version = 1
    /// The snapshot's time-ordered id.
    public let id: ObjectID
    /// When the database was copied.
    public let time: Date
    /// The host that took it.
    public let host: String
    /// The job that took it; nil for a backup run by hand.
    public let job: String?
    /// The data folder it was taken from.
    public let source: String
    /// The database copy (planner.db), chunked into fixed-size blobs.
    public let database: SnapshotFile
    /// The length of the database's blobs (the last may be shorter).
    public let databaseChunkSize: Int
    /// Rows per table in the copied database, for restore checks.
    public let rowCounts: [String: Int]
    /// The documents captured, in path order.
    public let documents: [SnapshotFile]
    /// Documents that could not be captured as the database records them.
    public let problems: [SnapshotProblem]
    /// Bytes in the snapshot, and bytes this backup newly stored.
    public let totalBytes: Int64
    /// Bytes this backup stored that no earlier snapshot had.
    public let addedBytes: Int64

    /// A snapshot with the given parts.
    public init(
        id: ObjectID, time: Date, host: String, job: String?, source: String, database: SnapshotFile,
        databaseChunkSize: Int, rowCounts: [String: Int], documents: [SnapshotFile], problems: [SnapshotProblem],
        totalBytes: Int64, addedBytes: Int64
    ) {
        self.id = id; self.time = time; self.host = host; self.job = job; self.source = source
        self.database = database; self.databaseChunkSize = databaseChunkSize; self.rowCounts = rowCounts
        self.documents = documents; self.problems = problems; self.totalBytes = totalBytes; self.addedBytes = addedBytes
    }

    enum CodingKeys: String, CodingKey {
        case version, id, time, host, job, source, database, documents, problems
        case databaseChunkSize = "database_chunk_size"
        case rowCounts = "row_counts"
        case totalBytes = "total_bytes"
        case addedBytes = "added_bytes"
    }
}

/// The repository's config object: which key names blobs.
public struct RepositoryConfig: Codable, Sendable {
    /// The config's format version (1).
    public var version = 1
    /// The repository's id: every region of a deployment holds the same.
    public let id: ObjectID
    /// When the repository was created.
    public let created: Date
    /// The data key whose KDF subkey ("lgblobid", id 1) names blobs; stable across rotations.
    public let idKey: ObjectID

    enum CodingKeys: String, CodingKey {
        case version, id, created
        case idKey = "id_key"
    }
}

enum JSON {
    /// Dates with milliseconds, so snapshots taken within one second still order; read
    /// back through `Timestamp.parse`, which keeps hostile text away from ICU.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .fractionalTimestamp
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .timestamp
        return d
    }()
}

extension PackEntry {
    /// Whether the numbers of a decoded entry can be used as they are: shard counts the
    /// erasure code accepts, one distinct location per shard, lengths that are not negative
    /// and fit a pack. An index is authenticated, but its reader must still be total: a
    /// compromised client's index must not trap the next restore.
    public func checkUsable() throws {
        guard (1...32).contains(dataShards), (0...32).contains(parityShards) else {
            throw RepositoryError.malformed("pack \(id.hex): \(dataShards)+\(parityShards) shards")
        }
        guard locations.count == dataShards + parityShards, Set(locations).count == locations.count,
            locations.allSatisfy({ (0..<256).contains($0) })
        else {
            throw RepositoryError.malformed("pack \(id.hex): locations \(locations.prefix(40)) do not name one location per shard")
        }
        guard (0...PackEntry.maximumLength).contains(length), blobs.allSatisfy({ (0...PackEntry.maximumLength).contains($0.length) }) else {
            throw RepositoryError.malformed("pack \(id.hex): length out of range")
        }
        if let nonces, nonces.count != locations.count {
            throw RepositoryError.malformed("pack \(id.hex): \(nonces.count) nonces for \(locations.count) shards")
        }
        if let sealedAt, !sealedAt.isFinite { throw RepositoryError.malformed("pack \(id.hex): sealed_at is not a number") }
    }

    /// The largest pack (or blob) an index may describe: far above what a backup writes.
    public static let maximumLength = 1 << 36
}

extension IndexManifest {
    /// Decodes an index object's plaintext and checks every entry (`PackEntry.checkUsable`).
    public static func decode(_ json: [UInt8]) throws -> IndexManifest {
        let manifest = try JSON.decoder.decode(IndexManifest.self, from: Data(json))
        for p in manifest.packs { try p.checkUsable() }
        return manifest
    }
}

extension SnapshotManifest {
    /// Decodes a snapshot object's plaintext and checks its numbers (sizes, chunk size,
    /// modes, times) before anything is sized or indexed by them; paths are checked by
    /// restore before anything is written.
    public static func decode(_ json: [UInt8]) throws -> SnapshotManifest {
        let s = try JSON.decoder.decode(SnapshotManifest.self, from: Data(json))
        guard (1...(1 << 30)).contains(s.databaseChunkSize) else { throw RepositoryError.malformed("snapshot \(s.id.hex): chunk size \(s.databaseChunkSize)") }
        for f in [s.database] + s.documents {
            guard f.size >= 0, f.size <= Int64(PackEntry.maximumLength) * 1024, f.modified.isFinite,
                f.mode.map({ (0...0o7777).contains($0) }) ?? true
            else {
                throw RepositoryError.malformed("snapshot \(s.id.hex): file \(f.path.prefix(200)) has impossible size, time or mode")
            }
        }
        guard s.totalBytes >= 0, s.addedBytes >= 0 else { throw RepositoryError.malformed("snapshot \(s.id.hex): negative byte counts") }
        return s
    }
}

#if canImport(Glibc)
    import Glibc
#endif

extension SnapshotFile {
    /// Whether `pattern` names this file, as `find` and `restore --include` read it: a shell
    /// pattern (fnmatch: `*`, `?`, `[..]`) matching the whole path or its last component, or
    /// a folder the file is in (`documents/42`).
    public func matches(_ pattern: String) -> Bool {
        let folder = pattern.hasSuffix("/") ? String(pattern.dropLast()) : pattern
        return fnmatch(pattern, path, 0) == 0 || fnmatch(pattern, (path as NSString).lastPathComponent, 0) == 0
            || (!folder.isEmpty && path.hasPrefix(folder + "/"))
    }

}
