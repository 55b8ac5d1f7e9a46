import Foundation
import LeafArchive
import LeafConcurrency
import LeafDigest
import LeafRepository
import LeafSQLite

/// What a restore did and what it worked around.
public struct RestoreResult: Sendable {
    /// The snapshot restored.
    public let snapshot: SnapshotManifest
    /// Files written: the database and every document.
    public let files: Int
    /// Bytes written.
    public let bytes: Int64
    /// Shards that were missing or corrupt and were rebuilt from the others.
    public let repairedAround: [String]
    /// Wall time of the restore.
    public let seconds: Double
    /// Whether the database was among the files (then checked by SQLite too).
    public var includedDatabase = true
}

/// Why a restore failed.
public struct RestoreError: Error, CustomStringConvertible, Sendable {
    /// What failed and what to do, naming the file or object.
    public let message: String
    /// The restore stopped because it was asked to (`shouldStop`), not because of a fault.
    public let stopped: Bool
    /// The restore refused to start because of where it was asked to write (an operator's
    /// mistake); nothing was read or written.
    public let refused: Bool
    /// An error saying `message`.
    public init(_ message: String, stopped: Bool = false, refused: Bool = false) {
        self.message = message; self.stopped = stopped; self.refused = refused
    }
    /// The message.
    public var description: String { message }
}

/// Rebuilds a planner data directory from a snapshot.
public struct Restore: Sendable {
    /// The region's repository the snapshot is read from.
    public let repository: Repository
    /// Packs read and opened at once.
    public var workers = 2
    /// Copies of the repository (the other regions) to take shards from when this one
    /// cannot supply enough of a pack.
    public var otherRegions: [Repository] = []
    /// Called with (phase, bytes done, bytes total) as work proceeds.
    public let progress: @Sendable (String, Int64, Int64) -> Void
    /// Asked between packs and before the restored folder is moved into place: once it
    /// answers true the restore stops, removes its scratch folder and throws a `stopped`
    /// error, leaving the target as it was (a command's Ctrl-C).
    public var shouldStop: @Sendable () -> Bool = { false }

    #if DEBUG
        /// Debug builds only: `LEAFGUARD_STALL_RESTORE` holds a restore after its first pack
        /// until it is asked to stop, so a test can interrupt one that is certainly midway.
        static let stallForTests = ProcessInfo.processInfo.environment["LEAFGUARD_STALL_RESTORE"] != nil
    #else
        static let stallForTests = false
    #endif

    /// A restore from `repository`, reporting to `progress`.
    public init(repository: Repository, progress: @escaping @Sendable (String, Int64, Int64) -> Void = { _, _, _ in }) {
        self.repository = repository; self.progress = progress
    }

    /// Restores `snapshot` into `target`, which must be empty unless `force` is set.
    ///
    /// Atomic: everything is written into a new 0700 folder beside the target
    /// (`.NAME.leafguard-restore-PID`), checked there (every document's and the database's
    /// SHA-256, integrity_check, row counts), given its recorded modes and times, and only
    /// then moved into place; with `force` the old content is first moved aside, then
    /// removed. A stopped restore leaves the target as it was (its scratch folder is removed
    /// by the next restore into the same place). Paths come from the snapshot and are checked
    /// before anything is written: relative, no `.`/`..`/empty component, no NUL; files are
    /// created with O_EXCL|O_NOFOLLOW in the fresh folder, so nothing lands outside it.
    ///
    /// With `include` patterns (`SnapshotFile.matches`), only the files they name are
    /// restored, each checked by its SHA-256 and given its mode and time (the database too,
    /// when named, with SQLite's checks); a pattern that names nothing is refused. `paths`
    /// names files exactly, for callers that know them (every one must be in the snapshot).
    public func run(
        _ snapshot: SnapshotManifest, to rawTarget: String, force: Bool, include: [String] = [], paths: Set<String>? = nil
    ) throws -> RestoreResult {
        let t0 = Date()
        let fm = FileManager.default
        var files = [snapshot.database] + snapshot.documents
        if !include.isEmpty {
            if let unmatched = include.first(where: { p in !files.contains { $0.matches(p) } }) {
                throw RestoreError(
                    "no file of snapshot \(snapshot.id.short) matches '\(unmatched)'; nothing was written (see 'leafguard ls' and 'leafguard find')",
                    refused: true)
            }
            files = files.filter { f in include.contains { f.matches($0) } }
        }
        if let paths {
            if let absent = paths.subtracting(files.map(\.path)).sorted().first {
                throw RestoreError("snapshot \(snapshot.id.short) holds no file \(absent); nothing was written", refused: true)
            }
            files = files.filter { paths.contains($0.path) }
        }
        var seen = Set<String>()
        for f in files {
            try Self.checkPath(f.path)
            guard seen.insert(f.path).inserted else { throw RestoreError("snapshot \(snapshot.id.short) lists \(f.path) twice; it is damaged or forged") }
        }
        let target = rawTarget.count > 1 && rawTarget.hasSuffix("/") ? String(rawTarget.dropLast()) : rawTarget
        var st = stat()
        let exists = lstat(target, &st) == 0
        if exists {
            if (st.st_mode & S_IFMT) == S_IFLNK { throw RestoreError("\(target) is a symbolic link; restore into a real folder", refused: true) }
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw RestoreError("\(target) exists and is not a folder", refused: true) }
        }
        let present = exists ? ((try? fm.contentsOfDirectory(atPath: target)) ?? []) : []
        let nonEmpty = !present.isEmpty
        if nonEmpty && !force {
            throw RestoreError("\(target) is not empty; restore into an empty folder, or pass --force to replace its content", refused: true)
        }
        // --force replaces a planner data folder as a whole, so what it would delete must be
        // what such a folder holds: a mistyped parent folder (/srv for /srv/planner) is refused.
        let foreign = present.filter { !Self.belongsToDataFolder($0, of: snapshot) }.sorted()
        if nonEmpty && !foreign.isEmpty {
            let listed = foreign.prefix(5).joined(separator: ", ") + (foreign.count > 5 ? ", … (\(foreign.count) in all)" : "")
            throw RestoreError(
                "\(target) holds \(listed), which no planner data folder does; --force replaces the folder's content as a whole and "
                    + "would delete them. Name the planner data folder itself, or an empty one; nothing was written",
                refused: true)
        }
        let index = try repository.loadIndex()
        // Where every blob goes: (file, offset). Check everything is findable before writing anything.
        var targets: [BlobID: [(Int, Int64)]] = [:]
        var byPack: [ObjectID: Set<BlobID>] = [:]
        for (fi, f) in files.enumerated() {
            var offset: Int64 = 0
            for b in f.blobs {
                guard let pack = index.blobs[b], let entry = index.packs[pack] else {
                    throw RestoreError(
                        "snapshot \(snapshot.id.short) needs blob \(b.hex.prefix(16))… that no index lists; the repository is damaged (run verify)")
                }
                targets[b, default: []].append((fi, offset))
                byPack[pack, default: []].insert(b)
                offset += Int64(entry.blobs.first { $0.id == b }?.length ?? 0)
            }
            guard offset == f.size, f.size >= 0 else {
                throw RestoreError("snapshot \(snapshot.id.short): \(f.path) records \(f.size) bytes but its blobs hold \(offset); it is damaged or forged")
            }
        }
        let parent = (target as NSString).deletingLastPathComponent.isEmpty ? "." : (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw RestoreError("cannot create \(parent): \(error.localizedDescription)")
        }
        Self.removeStaleScratch(in: parent, base: base)
        let root = parent + "/.\(base).leafguard-restore-\(getpid())"
        guard mkdir(root, 0o700) == 0 else { throw RestoreError("cannot create \(root): \(String(cString: strerror(errno)))") }
        var moved = false
        defer { if !moved { try? fm.removeItem(atPath: root) } }
        let result: RestoreResult
        do {
            result = try write(snapshot, files: files, into: root, index: index, targets: targets, byPack: byPack, t0: t0)
            try stopIfAsked()
        } catch let e as RestoreError where e.stopped {
            // The scratch folder goes with the deferred removal above, before the caller reads this.
            throw RestoreError("the restore was stopped before it finished; \(target) is as it was, and nothing of the restore is left", stopped: true)
        }

        // Into place in one step: a non-empty target is exchanged with the restored folder
        // (renameat2 RENAME_EXCHANGE), so at every instant the target holds either its old
        // content or the restored one; the old content, now under the scratch name, is removed
        // (or, after a kill, by the next restore into the same place).
        if nonEmpty {
            guard glibcRenameat2(AT_FDCWD, root, AT_FDCWD, target, renameExchange) == 0 else {
                throw RestoreError("cannot move the restored folder into \(target): \(String(cString: strerror(errno)))")
            }
            moved = true
            try? fm.removeItem(atPath: root)
        } else {
            if exists { _ = rmdir(target) }
            guard rename(root, target) == 0 else { throw RestoreError("cannot move the restored folder to \(target): \(String(cString: strerror(errno)))") }
            moved = true
        }
        return result
    }

    /// Whether `name`, an entry of a folder a forced restore would replace, is one a planner
    /// data folder holds: the snapshot's database and its SQLite side files, and the first
    /// component of any path the snapshot lists (`documents`).
    static func belongsToDataFolder(_ name: String, of snapshot: SnapshotManifest) -> Bool {
        let database = snapshot.database.path
        if name == database || ["-wal", "-shm", "-journal"].contains(where: { name == database + $0 }) { return true }
        return snapshot.documents.contains { $0.path.split(separator: "/", maxSplits: 1).first.map(String.init) == name }
            || (name == "documents" && snapshot.documents.isEmpty)
    }

    /// Throws a `stopped` error once `shouldStop` says so.
    func stopIfAsked() throws {
        if shouldStop() { throw RestoreError("the restore was stopped", stopped: true) }
    }

    /// Throws unless `path` is a relative path of plain components (no `.`, `..`, empty
    /// component or NUL) no longer than PATH_MAX: a snapshot names nothing outside the target.
    static func checkPath(_ path: String) throws {
        let bytes = Array(path.utf8)
        let bad =
            bytes.isEmpty || bytes.count > 4000 || bytes.first == UInt8(ascii: "/") || bytes.contains(0)
            || path.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." || $0.utf8.count > 255 }
        if bad {
            throw RestoreError(
                "the snapshot names the path '\(path.prefix(200))', which is not a plain relative path; it is damaged or forged, and nothing was written")
        }
    }

    /// Removes scratch folders of restores into the same place whose process is gone.
    static func removeStaleScratch(in parent: String, base: String) {
        let prefix = ".\(base).leafguard-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.split(separator: "-").last ?? ""), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: parent + "/" + name)
        }
    }

    private func write(
        _ snapshot: SnapshotManifest, files: [SnapshotFile], into target: String, index: (packs: [ObjectID: PackEntry], blobs: [BlobID: ObjectID]),
        targets: [BlobID: [(Int, Int64)]], byPack: [ObjectID: Set<BlobID>], t0: Date
    ) throws -> RestoreResult {
        let fm = FileManager.default
        let paths = files.map { target + "/" + $0.path }
        // The database, when restored, is checked by SQLite too and keeps no recorded mtime.
        let databaseIndex = files.firstIndex { $0.path == snapshot.database.path && $0.sha256 == snapshot.database.sha256 }
        for (i, f) in files.enumerated() {
            try fm.createDirectory(
                atPath: (paths[i] as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let fd = open(paths[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw RestoreError("cannot create \(paths[i]): \(String(cString: strerror(errno)))") }
            let rc = ftruncate(fd, off_t(f.size))
            close(fd)
            guard rc == 0 else { throw RestoreError("cannot size \(paths[i]): \(String(cString: strerror(errno)))") }
        }
        let total = files.reduce(Int64(0)) { $0 + $1.size }
        let targetsByBlob = targets
        let blobsByPack = byPack
        let state = RestoreState()
        let packs = Array(byPack.keys)
        let work = BoundedWork(width: workers, label: "leafguard.restore")
        for pid in packs {
            if state.failed || shouldStop() { break }
            work.submit {
                do {
                    guard let entry = index.packs[pid] else { return }
                    let (bytes, report) = try repository.readPack(entry, alsoFrom: otherRegions)
                    let wanted = blobsByPack[pid] ?? []
                    var written: Int64 = 0
                    try TarReader.forEachEntry(in: bytes) { name, data in
                        guard let id = BlobID(hex: name), wanted.contains(id) else { return }
                        let digest = SHA256.hash(data)
                        guard repository.blobID(sha256: digest) == id else {
                            throw RestoreError("blob \(name.prefix(16))… in pack \(pid.hex.prefix(16))… does not match its id")
                        }
                        // A one-blob document's digest is this blob's: it is checked here, not re-read later.
                        for (fi, _) in targetsByBlob[id] ?? [] where files[fi].blobs.count == 1 && fi != databaseIndex {
                            if digest.hexString == files[fi].sha256 {
                                state.verified(fi)
                            } else {
                                throw RestoreError("\(files[fi].path) restored with SHA-256 \(digest.hexString), expected \(files[fi].sha256)")
                            }
                        }
                        for (fi, off) in targetsByBlob[id] ?? [] {
                            try pwriteAll(paths[fi], data, at: off)
                            written += Int64(data.count)
                        }
                    }
                    state.record(written: written, repaired: report.repaired)
                    progress("restore", state.bytes, total)
                    if Self.stallForTests { while !shouldStop() { usleep(10_000) } }
                } catch {
                    state.fail(error)
                }
            }
        }
        work.wait()
        try stopIfAsked()
        if let e = state.error { throw e }

        // Check: every document's SHA-256, then the database.
        // The database too: its recorded SHA-256 first, then SQLite's own checks.
        for (i, f) in files.enumerated() where i == databaseIndex || !state.isVerified(i) {
            let digest = try SHA256.hash(fileAt: paths[i]).hexString
            guard digest == f.sha256 else { throw RestoreError("\(f.path) restored with SHA-256 \(digest), expected \(f.sha256)") }
        }
        if let databaseIndex {
            let db = try Database(path: paths[databaseIndex], mode: .readWrite)
            let check = try db.query("PRAGMA integrity_check").map { $0[0].text ?? "" }
            guard check == ["ok"] else { throw RestoreError("restored database fails integrity_check: \(check.prefix(5).joined(separator: "; "))") }
            for (table, expected) in snapshot.rowCounts {
                let n = Int(try db.query("SELECT count(*) FROM \(quoted(table))")[0][0].int ?? -1)
                guard n == expected else { throw RestoreError("restored table \(table) has \(n) rows, the snapshot recorded \(expected)") }
            }
        }
        // Opening it for the checks may leave SQLite's side files; the restored folder holds none.
        if let databaseIndex { for suffix in ["-wal", "-shm", "-journal"] { unlink(paths[databaseIndex] + suffix) } }
        // Modes and times as recorded (documents kept their mtime, so the next backup reuses them).
        for (i, f) in files.enumerated() {
            chmod(paths[i], mode_t(f.mode.map { $0 & 0o777 } ?? 0o600))
            if i != databaseIndex {
                let seconds = f.modified.rounded(.down)
                var times = [
                    timespec(tv_sec: Int(seconds), tv_nsec: Int((f.modified - seconds) * 1e9)),
                    timespec(tv_sec: Int(seconds), tv_nsec: Int((f.modified - seconds) * 1e9)),
                ]
                _ = utimensat(AT_FDCWD, paths[i], &times, AT_SYMLINK_NOFOLLOW)
            }
        }
        return RestoreResult(
            snapshot: snapshot, files: files.count, bytes: total, repairedAround: state.repaired,
            seconds: Date().timeIntervalSince(t0), includedDatabase: databaseIndex != nil)
    }
}

/// renameat2(2)'s flag that swaps the two names in one step.
let renameExchange: UInt32 = 2

/// renameat2(2) (glibc 2.28+), for RENAME_EXCHANGE.
@_silgen_name("renameat2")
func glibcRenameat2(_ olddirfd: Int32, _ oldpath: UnsafePointer<CChar>, _ newdirfd: Int32, _ newpath: UnsafePointer<CChar>, _ flags: UInt32) -> Int32

/// The check restore makes of every path a snapshot names, for tests.
public enum RestorePathCheck {
    /// Throws unless `path` is one restore would write: relative, no `..`, `.`, empty component or NUL.
    public static func check(_ path: String) throws { try Restore.checkPath(path) }
}

/// What the restore workers share.
final class RestoreState: Sendable {
    private struct State {
        var bytes: Int64 = 0
        var repaired: [String] = []
        var error: (any Error)?
        var verifiedFiles = Set<Int>()
    }
    private let state = Locked(State())
    var bytes: Int64 { state.withLock { $0.bytes } }
    var repaired: [String] { state.withLock { $0.repaired } }
    var error: (any Error)? { state.withLock { $0.error } }
    func verified(_ i: Int) { state.withLock { _ = $0.verifiedFiles.insert(i) } }
    func isVerified(_ i: Int) -> Bool { state.withLock { $0.verifiedFiles.contains(i) } }
    var failed: Bool { state.withLock { $0.error != nil } }
    func record(written: Int64, repaired r: [String]) {
        state.withLock {
            $0.bytes += written; $0.repaired += r
        }
    }
    func fail(_ e: any Error) { state.withLock { if $0.error == nil { $0.error = e } } }
}

func pwriteAll(_ path: String, _ data: [UInt8], at offset: Int64) throws {
    let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { throw RestoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    let failure: String? = data.withUnsafeBytes { raw in
        while done < raw.count, let base = raw.baseAddress {
            let n = pwrite(fd, base + done, raw.count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; return String(cString: strerror(errno)) }
            done += n
        }
        return nil
    }
    if let failure { throw RestoreError("cannot write \(path): \(failure)") }
}
