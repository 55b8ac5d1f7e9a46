import Foundation
import LeafRepository
import LeafSQLite

/// What a backup would do, without doing it (`leafguard backup --dry-run`): the documents
/// the planner's database names, set against the region's newest snapshot the way a backup
/// sets them (same size, modification time and recorded digest: not read again).
public struct BackupPlan: Sendable, Encodable {
    /// One document that would be read and stored.
    public struct Document: Sendable, Encodable {
        /// Its path in the snapshot (`documents/…`).
        public let path: String
        /// Its size in bytes.
        public let size: Int64
    }
    /// The snapshot the plan compares with (its short id), nil when the region has none.
    public let previous: String?
    /// Documents the newest snapshot does not hold.
    public let added: [Document]
    /// Documents it holds with another size, time or digest.
    public let changed: [Document]
    /// Documents a backup would not read again.
    public let unchanged: Int
    /// Paths the newest snapshot holds that the planner no longer names.
    public let removed: [String]
    /// Documents the planner names that are missing or not regular files (reported, not stored).
    public let problems: [String]
    /// The live database's size: it is always copied and chunked; only changed chunks are stored.
    public let databaseBytes: Int64
    /// Bytes of new and changed documents: at most this much document data would be added
    /// (less where their chunks are already stored).
    public var documentBytes: Int64 { (added + changed).reduce(0) { $0 + $1.size } }

    enum CodingKeys: String, CodingKey {
        case previous, added, changed, unchanged, removed, problems
        case databaseBytes = "database_bytes"
        case documentBytes = "document_bytes"
    }

    /// Encodes the plan, its computed total included.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(previous, forKey: .previous)
        try c.encode(added, forKey: .added)
        try c.encode(changed, forKey: .changed)
        try c.encode(unchanged, forKey: .unchanged)
        try c.encode(removed, forKey: .removed)
        try c.encode(problems, forKey: .problems)
        try c.encode(databaseBytes, forKey: .databaseBytes)
        try c.encode(documentBytes, forKey: .documentBytes)
    }
}

extension Backup {
    /// What `run` would add, reading the live database read-only and the documents'
    /// metadata only (no document is read, nothing is written, no lock is taken).
    public func plan() throws -> BackupPlan {
        let dbPath = dataDirectory + "/planner.db"
        guard FileManager.default.fileExists(atPath: dbPath) else {
            throw BackupError("no planner database at \(dbPath); is 'data:' in leafguard.yml the planner data directory?")
        }
        let documents = try documentRows(try Database(path: dbPath, mode: .readOnly))
        let previous = try repository.latestSnapshot()
        var previousFiles: [String: SnapshotFile] = [:]
        for f in previous?.documents ?? [] { previousFiles[f.path] = f }
        var added: [BackupPlan.Document] = []
        var changed: [BackupPlan.Document] = []
        var problems: [String] = []
        var unchanged = 0
        var named = Set<String>()
        for doc in documents {
            let rel = "documents/" + doc.blobPath
            named.insert(rel)
            guard doc.safe else { problems.append("\(rel): unsafe path, not read"); continue }
            var st = stat()
            let path = dataDirectory + "/" + rel
            guard lstat(path, &st) == 0 else { problems.append("\(rel): missing"); continue }
            if let what = nonRegular(st) ?? symbolicLinkOnTheWay(dataDirectory, rel) { problems.append("\(rel): \(what), not read"); continue }
            let document = BackupPlan.Document(path: rel, size: Int64(st.st_size))
            guard let prev = previousFiles[rel] else { added.append(document); continue }
            if prev.isUnchanged(size: Int64(st.st_size), modified: modificationTime(st), recordedSHA256: doc.sha256) {
                unchanged += 1
            } else {
                changed.append(document)
            }
        }
        let removed = previousFiles.keys.filter { !named.contains($0) }.sorted()
        return BackupPlan(
            previous: previous?.id.short, added: added, changed: changed, unchanged: unchanged, removed: removed, problems: problems,
            databaseBytes: fileSize(dbPath))
    }
}
