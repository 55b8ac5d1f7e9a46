import Foundation
import LeafDigest
import LeafRepository
import LeafSQLite

/// How one table differs between two planner databases, row by row, by primary key.
public struct TableDifference: Sendable, Encodable, Equatable {
    /// The table.
    public let table: String
    /// Keys (`id=12`, `account_id=3,user_id=7`) of rows only the newer side holds.
    public var added: [String] = []
    /// Keys of rows only the older side holds.
    public var removed: [String] = []
    /// Keys of rows both hold with different values.
    public var changed: [String] = []
    /// Rows of each kind, however many keys are listed.
    public var addedCount = 0, removedCount = 0, changedCount = 0
    /// Whether some keys were left out of the lists (the counts are whole).
    public var truncated = false

    /// Whether the two sides hold the same rows.
    public var isEmpty: Bool { addedCount == 0 && removedCount == 0 && changedCount == 0 }

    enum CodingKeys: String, CodingKey {
        case table, added, removed, changed, truncated
        case addedCount = "added_count"
        case removedCount = "removed_count"
        case changedCount = "changed_count"
    }
}

/// How documents differ between two sides, by path and SHA-256.
public struct DocumentDifference: Sendable, Encodable, Equatable {
    /// Paths only the newer side holds.
    public var added: [String] = []
    /// Paths only the older side holds (or that the newer side names but lacks on disk).
    public var removed: [String] = []
    /// Paths both hold with different content.
    public var changed: [String] = []
    /// Whether both sides hold the same documents.
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}

/// Compares planner databases and document sets.
public enum PlannerDiff {
    /// Row differences of every table either database holds, `older` against `newer`, each
    /// list of keys cut at `limit` (counts are whole). Tables that do not differ are left out.
    public static func tables(older: String, newer: String, limit: Int = .max) throws -> [TableDifference] {
        let db = try Database(path: ":memory:", mode: .readWriteCreate)
        try db.run("ATTACH DATABASE ? AS a", [.text(readOnlyURI(older))])
        try db.run("ATTACH DATABASE ? AS b", [.text(readOnlyURI(newer))])
        func tableNames(_ schema: String) throws -> Set<String> {
            Set(try db.query("SELECT name FROM \(schema).sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").compactMap { $0[0].text })
        }
        // One read transaction over both: a live database being written meanwhile is read in one state.
        return try db.transaction("DEFERRED") { try differences(db, limit: limit, inA: try tableNames("a"), inB: try tableNames("b")) }
    }

    static func differences(_ db: Database, limit: Int, inA: Set<String>, inB: Set<String>) throws -> [TableDifference] {
        var out: [TableDifference] = []
        for table in inA.union(inB).sorted() {
            var d = TableDifference(table: table)
            func keys(_ sql: String) throws -> [String] { try db.query(sql).map { $0[0].text ?? "" } }
            func count(_ sql: String) throws -> Int { Int(try db.query("SELECT count(*) FROM (\(sql))")[0][0].int ?? 0) }
            let t = quoted(table)
            if !inA.contains(table) || !inB.contains(table) {
                let side = inA.contains(table) ? "a" : "b"
                let key = try keyColumns(db, schema: side, table: table)
                let sql = "SELECT \(keyText(key, "x")) FROM \(side).\(t) AS x"
                let listed = try keys(sql + " LIMIT \(limit)")
                let n = try count(sql)
                if side == "a" { d.removed = listed; d.removedCount = n } else { d.added = listed; d.addedCount = n }
                d.truncated = listed.count < n
            } else {
                let key = try keyColumns(db, schema: "b", table: table)
                let columns = try Set(columnNames(db, schema: "a", table: table)).intersection(columnNames(db, schema: "b", table: table)).sorted()
                let join = key.map { "x.\(quoted($0)) IS y.\(quoted($0))" }.joined(separator: " AND ")
                let added = "SELECT \(keyText(key, "x")) FROM b.\(t) AS x WHERE NOT EXISTS (SELECT 1 FROM a.\(t) AS y WHERE \(join))"
                let removed = "SELECT \(keyText(key, "x")) FROM a.\(t) AS x WHERE NOT EXISTS (SELECT 1 FROM b.\(t) AS y WHERE \(join))"
                let same = columns.map { "x.\(quoted($0)) IS y.\(quoted($0))" }.joined(separator: " AND ")
                let changed = "SELECT \(keyText(key, "x")) FROM b.\(t) AS x JOIN a.\(t) AS y ON \(join) WHERE NOT (\(same.isEmpty ? "1" : same))"
                d.added = try keys(added + " LIMIT \(limit)")
                d.removed = try keys(removed + " LIMIT \(limit)")
                d.changed = try keys(changed + " LIMIT \(limit)")
                d.addedCount = try count(added)
                d.removedCount = try count(removed)
                d.changedCount = try count(changed)
                d.truncated = d.added.count < d.addedCount || d.removed.count < d.removedCount || d.changed.count < d.changedCount
            }
            if !d.isEmpty { out.append(d) }
        }
        return out
    }

    /// Documents of `older` against `newer`, each a map of path to SHA-256 (nil: named but
    /// absent on disk, which counts as removed).
    public static func documents(older: [String: String?], newer: [String: String?]) -> DocumentDifference {
        var d = DocumentDifference()
        for (path, digest) in newer.sorted(by: { $0.key < $1.key }) {
            guard let before = older[path], before != nil else {
                if digest != nil { d.added.append(path) }
                continue
            }
            if digest == nil { d.removed.append(path) } else if digest != before { d.changed.append(path) }
        }
        for path in older.keys.sorted() where newer[path] == nil && older[path] != nil { d.removed.append(path) }
        d.removed.sort()
        return d
    }

    /// The documents a snapshot holds, by path (the database left out), restricted to `paths` when given.
    public static func documents(of snapshot: SnapshotManifest, only paths: Set<String>? = nil) -> [String: String?] {
        var out: [String: String?] = [:]
        for f in snapshot.documents where paths?.contains(f.path) ?? true { out[f.path] = f.sha256 }
        return out
    }

    /// The documents a live planner data folder holds, by path: those its database names
    /// (restricted to `paths` when given), each with the SHA-256 of the file as it is (nil
    /// when the file is absent or not a regular file).
    public static func liveDocuments(in dataDirectory: String, named paths: [String]) -> [String: String?] {
        var out: [String: String?] = [:]
        for path in paths {
            let full = dataDirectory + "/" + path
            var st = stat()
            guard (try? Restore.checkPath(path)) != nil, lstat(full, &st) == 0, nonRegular(st) == nil, symbolicLinkOnTheWay(dataDirectory, path) == nil,
                let digest = try? SHA256.hash(fileAt: full)
            else {
                out[path] = .some(nil)
                continue
            }
            out[path] = digest.hexString
        }
        return out
    }

    static func keyColumns(_ db: Database, schema: String, table: String) throws -> [String] {
        let info = try db.query("SELECT name, pk FROM \(schema).pragma_table_info(?) ORDER BY pk", [.text(table)])
        let key = info.filter { ($0[1].int ?? 0) > 0 }.compactMap { $0[0].text }
        // No declared key: every column is the row's identity (a changed row is one removed and one added).
        return key.isEmpty ? info.compactMap { $0[0].text } : key
    }

    static func columnNames(_ db: Database, schema: String, table: String) throws -> [String] {
        try db.query("SELECT name FROM \(schema).pragma_table_info(?)", [.text(table)]).compactMap { $0[0].text }
    }

    /// SQL text of a row's key as `col=value,…`.
    static func keyText(_ key: [String], _ alias: String) -> String {
        key.map { "'\($0.replacingOccurrences(of: "'", with: "''"))=' || quote(\(alias).\(quoted($0)))" }.joined(separator: " || ',' || ")
    }
}
