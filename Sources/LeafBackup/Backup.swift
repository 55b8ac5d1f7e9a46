import Foundation
import LeafConcurrency
import LeafDigest
import LeafRepository
import LeafSQLite

/// Tunables of a backup; the defaults are what the benchmarks measured best on two cores.
public struct BackupOptions: Sendable {
    /// Shards that carry each pack's bytes.
    public var dataShards = 4
    /// Parity shards per pack: this many locations may be lost.
    public var parityShards = 2
    /// Target plaintext bytes per pack.
    public var packSize = 8 << 20
    /// Fixed chunk size for the database copy: SQLite pages never move, so fixed chunks
    /// that are a multiple of the page size isolate changed pages.
    public var databaseChunkSize = 32 << 10
    /// Documents larger than this are split into chunks of this size.
    public var documentChunkSize = 4 << 20
    /// zstd's level for packs that compress (others are stored as they are).
    public var zstdLevel = 3
    /// Packs sealed and written at once.
    public var workers = 2
    /// The job the snapshot is recorded under, if a job took it.
    public var job: String?
    /// Look for packs an interrupted run wrote but never indexed (lists every shard name;
    /// the backup step sets it only when the previous run did not finish).
    public var recoverInterruptedRun = true
    /// Where the database copy is made; it is removed afterwards.
    public var scratchDirectory: String
    /// Called with the snapshot's id once its data and index are stored and before the
    /// snapshot itself is: where the caller records it (the audit log), so that a snapshot
    /// nobody recorded is known for one that leafguard did not write. A throw stops the backup.
    public var beforeSnapshot: @Sendable (ObjectID) throws -> Void = { _ in }

    /// Defaults, with the database copy made in `scratchDirectory`.
    public init(scratchDirectory: String) { self.scratchDirectory = scratchDirectory }
}

/// What a backup did, for the step result and history.
public struct BackupResult: Sendable {
    /// The snapshot written.
    public let snapshot: SnapshotManifest
    /// New packs written.
    public let packsWritten: Int
    /// Blobs the repository did not hold yet.
    public let blobsAdded: Int
    /// Plaintext bytes newly stored and sealed bytes written (all shards).
    public let bytesAdded: Int64
    /// Sealed bytes written, every shard counted.
    public let bytesStored: Int64
    /// Documents whose size, modification time and recorded digest matched the previous snapshot, so were not read.
    public let filesUnchanged: Int
    /// Packs an interrupted backup had written, found and reused.
    public let packsRecovered: Int
    /// Seconds spent in each phase, in order, for logs and tuning.
    public let phases: [(String, Double)]
    /// Wall time of the backup.
    public let seconds: Double
}

/// Why a backup could not run.
public struct BackupError: Error, CustomStringConvertible, Sendable {
    /// What failed and what to do, naming the file or object.
    public let message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Takes a consistent snapshot of a planner data directory into a repository.
public struct Backup: Sendable {
    /// The region's repository the snapshot goes to.
    public let repository: Repository
    /// The planner data folder: planner.db and documents/.
    public let dataDirectory: String
    /// How the backup is done.
    public let options: BackupOptions
    /// Called with (phase, bytes done, bytes total) as work proceeds.
    public let progress: @Sendable (String, Int64, Int64) -> Void

    /// A backup of `dataDirectory` into `repository`, reporting to `progress`.
    public init(
        repository: Repository, dataDirectory: String, options: BackupOptions,
        progress: @escaping @Sendable (String, Int64, Int64) -> Void = { _, _, _ in }
    ) {
        self.repository = repository; self.dataDirectory = dataDirectory; self.options = options; self.progress = progress
    }

    /// Copies the live database with SQLite's backup API, reads the documents it names, stores what is new and writes the snapshot.
    public func run() throws -> BackupResult {
        let t0 = Date()
        var phases: [(String, Double)] = []
        var mark = Date()
        func phase(_ name: String) { let now = Date(); phases.append((name, now.timeIntervalSince(mark))); mark = now }
        let dbPath = dataDirectory + "/planner.db"
        guard FileManager.default.fileExists(atPath: dbPath) else {
            throw BackupError("no planner database at \(dbPath); is 'data:' in leafguard.yml the planner data directory?")
        }
        // The copy holds every family's entries in plain text: a 0700 folder, 0600 files,
        // removed with SQLite's side files on success and failure, and copies a killed run
        // left behind removed before a new one is made.
        try FileManager.default.createDirectory(
            atPath: options.scratchDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        chmod(options.scratchDirectory, 0o700)
        Self.removeStaleDatabaseCopies(in: options.scratchDirectory)
        let copyPath = options.scratchDirectory + "/planner-\(getpid())-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: copyPath + suffix) } }

        // A shared region lock: prune (exclusive) waits for the next run rather than remove
        // packs this backup finds in the index and reuses.
        let lock = try RegionLock.acquire(.shared, in: repository)
        defer { lock.release() }

        // 1. A consistent copy of the live database through the online backup API.
        progress("database copy", 0, 0)
        try copyDatabase(from: dbPath, to: copyPath)
        let copy = try Database(path: copyPath, mode: .readOnly)
        let rowCounts = try countRows(copy)
        let documents = try documentRows(copy)
        phase("database copy")

        // 2. What the repository holds already, and the latest snapshot for unchanged files.
        let index = try repository.loadIndex()
        var known = Set(index.blobs.keys)
        let previous = try? repository.latestSnapshot()
        var previousFiles: [String: SnapshotFile] = [:]
        for f in previous?.documents ?? [] { previousFiles[f.path] = f }

        let key = try repository.newDataKey()
        // Packs an interrupted backup wrote completely but never indexed are reused.
        let adopted = options.recoverInterruptedRun ? try repository.adoptUnindexedPacks(known: Set(index.packs.keys), key: key) : []
        for p in adopted { for b in p.blobs { known.insert(b.id) } }
        if options.recoverInterruptedRun {
            // Indexes, snapshots and keys a killed run stored in some locations only: completed.
            repository.completePartialObjects()
            // Key objects a killed run left in some locations only: completed or removed.
            var packs = index.packs
            for p in adopted { packs[p.id] = p }
            repository.settlePartialDataKeys(needed: try repository.neededDataKeys(index: packs), keep: [key.id])
        }
        phase("load index and last snapshot")
        let pipeline = PackPipeline(
            repository: repository, key: key, packSize: options.packSize, zstdLevel: options.zstdLevel,
            dataShards: options.dataShards, parityShards: options.parityShards, workers: options.workers)
        var blobsAdded = 0
        var unchanged = 0
        do {
            let totalBytes = Int64(documents.reduce(0) { $0 + $1.size }) + fileSize(copyPath)
            var done: Int64 = 0
            func addBlob(_ bytes: [UInt8], digest: [UInt8], compress: Bool) throws -> BlobID {
                let id = repository.blobID(sha256: digest)
                if known.insert(id).inserted {
                    try pipeline.add(id, bytes, compress: compress)
                    blobsAdded += 1
                }
                done += Int64(bytes.count)
                progress("backup", done, totalBytes)
                return id
            }

            // 3. The database copy in fixed chunks.
            // Read in 4 MiB buffers; hash each buffer's chunks on two threads while a third
            // keeps the whole-file digest, then add the chunks in order.
            let dbHasher = WholeFileHasher()
            var dbBlobs: [BlobID] = []
            let chunkSize = options.databaseChunkSize
            let dbSize = try readChunks(of: copyPath, chunkSize: max(chunkSize, (4 << 20) / chunkSize * chunkSize)) { buffer in
                let count = (buffer.count + chunkSize - 1) / chunkSize
                let chunks = (0..<count).map { Array(buffer[($0 * chunkSize)..<min(buffer.count, ($0 + 1) * chunkSize)]) }
                let digests = Locked([[UInt8]](repeating: [], count: count))
                parallelForEach(3, width: 3) { part in
                    if part == 2 { dbHasher.update(buffer); return }
                    var i = part
                    while i < count {
                        let digest = SHA256.hash(chunks[i])
                        digests.withLock { $0[i] = digest }
                        i += 2
                    }
                }
                let chunkDigests = digests.value
                for (i, chunk) in chunks.enumerated() { dbBlobs.append(try addBlob(chunk, digest: chunkDigests[i], compress: true)) }
            }
            let dbFile = SnapshotFile(
                path: "planner.db", size: dbSize, sha256: dbHasher.finalize().hexString,
                modified: repository.clock.now.timeIntervalSince1970, blobs: dbBlobs)
            phase("database chunks")

            // 4. Every document the database names, checked against documents.sha256.
            var files: [SnapshotFile] = []
            var problems: [SnapshotProblem] = []
            for doc in documents {
                let rel = "documents/" + doc.blobPath
                let path = dataDirectory + "/" + rel
                guard doc.safe else {
                    problems.append(
                        SnapshotProblem(
                            path: rel, problem: "unsafe-path",
                            detail: "documents row \(doc.id) names a path outside documents/ (absolute, '..' or empty parts); not read"))
                    continue
                }
                var st = stat()
                guard lstat(path, &st) == 0 else {
                    problems.append(SnapshotProblem(path: rel, problem: "missing", detail: "documents row \(doc.id) names a file that does not exist"))
                    continue
                }
                if let what = nonRegular(st) ?? symbolicLinkOnTheWay(dataDirectory, rel) {
                    problems.append(
                        SnapshotProblem(path: rel, problem: "not-a-file", detail: "documents row \(doc.id) names \(what), not a regular file; not read"))
                    continue
                }
                let mtime = modificationTime(st)
                if let prev = previousFiles[rel], prev.isUnchanged(size: Int64(st.st_size), modified: mtime, recordedSHA256: doc.sha256),
                    prev.blobs.allSatisfy({ known.contains($0) })
                {
                    // Unchanged since the last snapshot (documents are immutable once written).
                    files.append(
                        SnapshotFile(
                            path: prev.path, size: prev.size, sha256: prev.sha256, modified: prev.modified,
                            mode: Int(st.st_mode & 0o7777), blobs: prev.blobs))
                    unchanged += 1
                    done += prev.size
                    continue
                }
                var whole = SHA256()
                var blobs: [BlobID] = []
                var compress: Bool?
                var singleDigest: [UInt8]?
                let size: Int64
                let chunked = Int(st.st_size) > options.documentChunkSize
                do {
                    size = try readChunks(of: path, chunkSize: options.documentChunkSize) { chunk in
                        if !chunked && !blobs.isEmpty { throw BackupError("\(rel) grew while it was read") }
                        let c = compress ?? chunk.withUnsafeBytes { Compressibility.worthCompressing(path: rel, sample: $0) }
                        compress = c
                        let digest = SHA256.hash(chunk)
                        // A document of one chunk: its digest is the chunk's, hashed once.
                        if chunked { whole.update(chunk) } else { singleDigest = digest }
                        blobs.append(try addBlob(chunk, digest: digest, compress: c))
                    }
                } catch let e as BackupError {
                    problems.append(SnapshotProblem(path: rel, problem: "unreadable", detail: e.message))
                    continue
                }
                let digest = (chunked ? whole.finalize() : (singleDigest ?? SHA256.hash([UInt8]()))).hexString
                if digest != doc.sha256.lowercased() {
                    problems.append(
                        SnapshotProblem(
                            path: rel, problem: "altered",
                            detail: "SHA-256 is \(digest), documents row \(doc.id) records \(doc.sha256)"))
                }
                files.append(SnapshotFile(path: rel, size: size, sha256: digest, modified: mtime, mode: Int(st.st_mode & 0o7777), blobs: blobs))
            }

            phase("documents")
            // 5. Data, then index, then the snapshot that names them.
            let packs = try pipeline.finish()
            phase("flush packs and index")
            // The repository's clock, as for its packs' seal times.
            let snapshotTime = repository.clock.now
            let snapshot = SnapshotManifest(
                id: .timeOrdered(snapshotTime), time: snapshotTime, host: ProcessInfo.processInfo.hostName, job: options.job,
                source: dataDirectory, database: dbFile, databaseChunkSize: options.databaseChunkSize, rowCounts: rowCounts,
                documents: files, problems: problems, totalBytes: dbSize + files.reduce(0) { $0 + $1.size },
                addedBytes: pipeline.blobBytes)
            try options.beforeSnapshot(snapshot.id)
            try repository.writeSnapshot(snapshot, key: key)
            phase("snapshot")
            return BackupResult(
                snapshot: snapshot, packsWritten: packs.count, blobsAdded: blobsAdded,
                bytesAdded: pipeline.blobBytes, bytesStored: pipeline.storedBytes,
                filesUnchanged: unchanged, packsRecovered: adopted.count, phases: phases, seconds: Date().timeIntervalSince(t0))
        } catch {
            pipeline.abandon()
            throw error
        }
    }

    func copyDatabase(from source: String, to destination: String) throws {
        let src = try Database(path: source, mode: .readOnly)
        let dst = try Database(path: destination, mode: .readWriteCreate)
        // The copy is scratch: no journal and no syncs for it (the stored blobs are what is durable).
        try dst.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
        // One step (-1) copies every page inside a single read transaction: in WAL mode the
        // application keeps committing meanwhile, and the copy is exactly one committed state.
        // Smaller steps would restart whenever another process commits, possibly forever.
        try src.backup(to: dst, pagesPerStep: -1) { remaining, total in
            progress("database copy", Int64(total - remaining), Int64(total))
        }
    }

    func countRows(_ db: Database) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
            guard let name = row[0].text else { continue }
            out[name] = Int(try db.query("SELECT count(*) FROM \(quoted(name))")[0][0].int ?? 0)
        }
        return out
    }

    /// Removes database copies (and their side files) left by runs whose process is gone.
    static func removeStaleDatabaseCopies(in folder: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix("planner-") {
            let parts = name.split(separator: "-")
            // planner-PID-UUID.db…: a live process's copy stays; one without a pid is from an older version.
            if parts.count > 2, let pid = Int32(parts[1]), pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }

    struct DocumentRow { let id: Int64; let blobPath: String; let size: Int; let sha256: String; var safe = true }

    func documentRows(_ db: Database) throws -> [DocumentRow] {
        let hasTable = try db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'documents'")
        guard !hasTable.isEmpty else { return [] }
        return try db.query("SELECT id, blob_path, size, sha256 FROM documents ORDER BY blob_path").compactMap { r in
            guard let id = r[0].int, let p = r[1].text, let sha = r[3].text else { return nil }
            // A blob_path escaping documents/ is never followed: it is reported.
            let safe =
                !(p.isEmpty || p.hasPrefix("/") || p.contains("\0")
                || p.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0 == "." || $0.isEmpty })
            return DocumentRow(id: id, blobPath: p, size: Int(r[2].int ?? 0), sha256: sha, safe: safe)
        }
    }
}

/// A file's modification time as a snapshot records it: seconds since 1970, nanoseconds included.
func modificationTime(_ st: stat) -> Double { Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 }

extension SnapshotFile {
    /// Whether this recorded document is still the one on disk: the same size and time, and
    /// the digest the planner records for it (documents are immutable once written), so a
    /// backup need not read it again.
    func isUnchanged(size: Int64, modified: Double, recordedSHA256: String) -> Bool {
        self.size == size && self.modified == modified && sha256 == recordedSHA256.lowercased()
    }
}

/// What a non-regular file is ("a symbolic link", "a FIFO", …), nil for a regular file.
func nonRegular(_ st: stat) -> String? {
    switch st.st_mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFLNK: return "a symbolic link"
    case S_IFIFO: return "a FIFO"
    case S_IFDIR: return "a folder"
    case S_IFCHR, S_IFBLK: return "a device"
    case S_IFSOCK: return "a socket"
    default: return "a special file"
    }
}

/// "a symbolic link (PART)" when a folder on the way from `base` to `rel` is one: a
/// document is read only beneath the data folder.
func symbolicLinkOnTheWay(_ base: String, _ rel: String) -> String? {
    var path = base
    for part in rel.split(separator: "/").dropLast() {
        path += "/" + part
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK { return "a path through a symbolic link (\(part))" }
    }
    return nil
}

func fileSize(_ path: String) -> Int64 {
    var st = stat()
    return stat(path, &st) == 0 ? Int64(st.st_size) : 0
}

/// Reads a file in chunks of `chunkSize` (the last may be shorter); returns the size.
/// Buffers are sized to what remains of the file, never larger.
func readChunks(of path: String, chunkSize: Int, _ body: ([UInt8]) throws -> Void) throws -> Int64 {
    // No symbolic link followed, no blocking open (a FIFO), and a regular file only.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
    guard fd >= 0 else { throw BackupError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw BackupError("cannot stat \(path): \(String(cString: strerror(errno)))") }
    if let what = nonRegular(st) { throw BackupError("\(path) is \(what), not a regular file") }
    var remaining = Int(st.st_size)
    var total: Int64 = 0
    repeat {
        // A file may grow while it is read; read at least one chunk past its stated size to notice.
        let want = remaining > 0 ? min(chunkSize, remaining) : chunkSize
        var failure: String?
        var got = 0
        let buf = [UInt8](unsafeUninitializedCapacity: want) { raw, count in
            while got < want, let base = raw.baseAddress {
                let n = read(fd, base + got, want - got)
                if n < 0 { if errno == EINTR { continue }; failure = String(cString: strerror(errno)); break }
                if n == 0 { break }
                got += n
            }
            count = got
        }
        if let failure { throw BackupError("cannot read \(path): \(failure)") }
        if got == 0 { break }
        total += Int64(got)
        remaining -= got
        try body(buf)
        if got < want { break }
    } while true
    return total
}

/// A running SHA-256 of a whole file, fed buffer by buffer from a worker thread.
/// `@unchecked Sendable` because it owns an OpenSSL context (a C resource): one worker at a
/// time feeds it, and `parallelForEach` returns before the next buffer is handed out.
final class WholeFileHasher: @unchecked Sendable {
    private var hasher = SHA256()
    func update(_ bytes: [UInt8]) { hasher.update(bytes) }
    func finalize() -> [UInt8] { hasher.finish() }
}
