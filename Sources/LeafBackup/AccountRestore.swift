import Foundation
import LeafDigest
import LeafRepository
import LeafSQLite

/// One family's data out of a snapshot: its documents and a planner database of the same
/// schema holding only its rows (`AccountRows`), checked like a full restore.
public struct AccountRestoreResult: Sendable {
    /// The account.
    public let account: Int64
    /// Rows per table of the account's database.
    public let rows: [String: Int]
    /// Documents written, each checked by its SHA-256.
    public let documents: Int
    /// Bytes of documents written.
    public let bytes: Int64
    /// Documents the account's rows name that the snapshot does not hold (it recorded them missing or unreadable).
    public let absent: [String]
    /// Shards worked around while reading.
    public let repairedAround: [String]
}

extension Restore {
    /// Restores account `account` of `snapshot` into `target` (absent or an empty folder):
    /// `planner.db` with only its rows (integrity_check passes, and every table holds the rows
    /// the account has in the snapshot) and its documents (each by SHA-256, mode and time).
    /// Built in a 0700 scratch folder beside the target and moved into place in one step.
    public func runAccount(_ snapshot: SnapshotManifest, account: Int64, to rawTarget: String) throws -> AccountRestoreResult {
        let target = rawTarget.count > 1 && rawTarget.hasSuffix("/") ? String(rawTarget.dropLast()) : rawTarget
        if let present = try? FileManager.default.contentsOfDirectory(atPath: target), !present.isEmpty {
            throw RestoreError("\(target) is not empty; restore one account into an empty folder", refused: true)
        }
        let parent = (target as NSString).deletingLastPathComponent.isEmpty ? "." : (target as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let scratch = parent + "/.\((target as NSString).lastPathComponent).leafguard-account-\(getpid())"
        Self.removeStaleScratch(in: parent, base: (target as NSString).lastPathComponent)
        try? FileManager.default.removeItem(atPath: scratch)
        guard mkdir(scratch, 0o700) == 0 else { throw RestoreError("cannot create \(scratch): \(String(cString: strerror(errno)))") }
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let (slice, rows, paths, repaired1) = try sliceAccount(snapshot, account: account, in: scratch)
        let held = Set(snapshot.documents.map(\.path))
        let wanted = paths.filter(held.contains)
        let out = scratch + "/out"
        var bytes: Int64 = 0
        var repaired = repaired1
        if wanted.isEmpty {
            guard mkdir(out, 0o700) == 0 else { throw RestoreError("cannot create \(out): \(String(cString: strerror(errno)))") }
        } else {
            let r = try run(snapshot, to: out, force: false, paths: Set(wanted))
            bytes = r.bytes
            repaired += r.repairedAround
        }
        guard rename(slice, out + "/" + snapshot.database.path) == 0 else {
            throw RestoreError("cannot move the account's database into place: \(String(cString: strerror(errno)))")
        }
        try stopIfAsked()
        if FileManager.default.fileExists(atPath: target) { _ = rmdir(target) }
        guard rename(out, target) == 0 else { throw RestoreError("cannot move the restored folder to \(target): \(String(cString: strerror(errno)))") }
        return AccountRestoreResult(
            account: account, rows: rows, documents: wanted.count, bytes: bytes, absent: paths.filter { !held.contains($0) },
            repairedAround: repaired)
    }

    /// Restores the snapshot's database alone into `scratch`, cuts account `account` out of it
    /// into `scratch/account.db` (checked: integrity_check, and row counts equal to the
    /// account's rows in the full copy) and removes the full copy. Returns the slice's path,
    /// its rows per table and the account's document paths.
    public func sliceAccount(_ snapshot: SnapshotManifest, account: Int64, in scratch: String) throws -> (
        path: String, rows: [String: Int], documents: [String], repairedAround: [String]
    ) {
        let full = scratch + "/full"
        let r = try run(snapshot, to: full, force: false, paths: [snapshot.database.path])
        defer { try? FileManager.default.removeItem(atPath: full) }
        let slice = scratch + "/account.db"
        let rows: [String: Int]
        do { rows = try AccountRows.slice(of: full + "/" + snapshot.database.path, account: account, into: slice) } catch let e as AccountDataError {
            throw RestoreError("snapshot \(snapshot.id.short): \(e.message)", refused: true)
        }
        let db = try Database(path: slice, mode: .readOnly)
        let check = try db.query("PRAGMA integrity_check").map { $0[0].text ?? "" }
        guard check == ["ok"] else { throw RestoreError("the account's database fails integrity_check: \(check.prefix(5).joined(separator: "; "))") }
        for (table, n) in rows {
            let have = Int(try db.query("SELECT count(*) FROM \(quoted(table))")[0][0].int ?? -1)
            guard have == n else { throw RestoreError("the account's table \(table) has \(have) rows, the snapshot holds \(n) of its rows") }
        }
        return (slice, rows, try AccountRows.documentPaths(in: slice, account: account), r.repairedAround)
    }
}

/// What bringing an account's rows and documents back into the live planner did.
public struct BroughtBack: Sendable, Encodable {
    /// Rows inserted, per table.
    public var rows: [String: Int] = [:]
    /// Documents copied into the live documents folder.
    public var documents: [String] = []
    /// Rows or documents left out because the live planner holds something else under the
    /// same key or name (nothing is overwritten), for people.
    public var conflicts: [String] = []
}

/// Brings back into a live planner what an account lost: rows of the account (and of the
/// users of its memberships) that a restored slice holds and the live database does not, and
/// the documents they name that the live folder lacks. Never updates or deletes a row, never
/// replaces a file, never touches a row of another account: every row written comes from the
/// account's slice, inserted in one transaction that the application's writers wait for.
public enum AccountReturn {
    /// Inserts the missing rows of `slice` (a database `AccountRows.slice` wrote, with the
    /// account's documents in `documentsFolder`/documents/…) into `dataDirectory`'s
    /// planner.db, and copies the missing documents first (a document row never lands
    /// without its file).
    public static func bringBack(account: Int64, slice: String, documentsFolder: String, into dataDirectory: String) throws -> BroughtBack {
        var result = BroughtBack()
        let live = try Database(path: dataDirectory + "/planner.db", mode: .readWrite)
        try live.run("ATTACH DATABASE ? AS s", [.text(readOnlyURI(slice))])
        // Documents first, outside the transaction: a file with no row is harmless (the next
        // backup does not read it); a row with no file would be a missing document.
        for path in try AccountRows.documentPaths(in: slice, account: account) {
            let source = documentsFolder + "/" + path
            let destination = dataDirectory + "/" + path
            guard FileManager.default.fileExists(atPath: source) else { continue }
            var st = stat()
            if lstat(destination, &st) == 0 {
                let same = (try? SHA256.hash(fileAt: destination).hexString) == (try? SHA256.hash(fileAt: source).hexString)
                if !same { result.conflicts.append("\(path): the live folder holds another file under this name; left as it is") }
                continue
            }
            try Restore.checkPath(path)
            if let link = symbolicLinkOnTheWay(dataDirectory, path) {
                throw AccountDataError("\(path) lies beyond \(link) in the live folder; nothing is written through a link")
            }
            try copyExclusively(source, to: destination)
            result.documents.append(path)
        }
        try live.transaction("IMMEDIATE") {
            for (table, _) in AccountRows.tables where AccountRows.broughtBack.contains(table) {
                let t = quoted(table)
                let key = try PlannerDiff.keyColumns(live, schema: "main", table: table)
                let columns = try PlannerDiff.columnNames(live, schema: "s", table: table).map(quoted).joined(separator: ", ")
                let join = key.map { "x.\(quoted($0)) IS y.\(quoted($0))" }.joined(separator: " AND ")
                let missing = "FROM s.\(t) AS x WHERE NOT EXISTS (SELECT 1 FROM main.\(t) AS y WHERE \(join))"
                let wanted = Int(try live.query("SELECT count(*) \(missing)")[0][0].int ?? 0)
                guard wanted > 0 else { continue }
                try live.execute("INSERT OR IGNORE INTO main.\(t) (\(columns)) SELECT \(columns) \(missing)")
                let inserted = Int(try live.query("SELECT changes()")[0][0].int ?? 0)
                result.rows[table] = inserted
                if inserted < wanted {
                    result.conflicts.append(
                        "\(table): \(wanted - inserted) row(s) not brought back: they clash with a live row's unique value (e.g. an email now used by another user)"
                    )
                }
            }
        }
        return result
    }

    /// Copies `source` to `destination`, which must not exist: written to a private
    /// temporary name in the destination folder, synced, then linked into place (link(2)
    /// fails rather than replace a file that appeared meanwhile).
    static func copyExclusively(_ source: String, to destination: String) throws {
        let folder = (destination as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = folder + "/.leafguard-return-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard let data = FileManager.default.contents(atPath: source) else { throw AccountDataError("cannot read \(source)") }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AccountDataError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        let ok = data.withUnsafeBytes { raw in raw.count == 0 || write(fd, raw.baseAddress, raw.count) == raw.count } && fsync(fd) == 0
        close(fd)
        guard ok else { throw AccountDataError("cannot write \(temporary)") }
        var st = stat()
        if stat(source, &st) == 0 {
            chmod(temporary, st.st_mode & 0o777)
            var times = [st.st_atim, st.st_mtim]
            _ = utimensat(AT_FDCWD, temporary, &times, 0)
        }
        guard link(temporary, destination) == 0 else {
            throw AccountDataError("cannot put \(destination) in place: \(String(cString: strerror(errno)))")
        }
    }
}
