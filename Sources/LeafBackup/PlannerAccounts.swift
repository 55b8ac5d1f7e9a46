import Foundation
import LeafSQLite

/// Why one family's data could not be cut out, compared or brought back.
public struct AccountDataError: Error, CustomStringConvertible, Sendable {
    /// What failed and what to do.
    public let message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Which rows of the planner's tables (../shared/planner/schema.sql) are one account's:
/// the account, its memberships, grants, entries, documents and activity, and the users of
/// its memberships with their credentials and factors. The password policies are the
/// planner's, not a family's: a slice holds them all, since credentials name them.
public enum AccountRows {
    /// Tables in the order rows go in (what a row names comes first), each with the
    /// condition selecting account `:a`'s rows of schema `S`.
    static let tables: [(table: String, condition: String)] = [
        ("password_policies", "1"),
        ("accounts", "id = :a"),
        ("users", "id IN (SELECT user_id FROM S.memberships WHERE account_id = :a)"),
        ("memberships", "account_id = :a"),
        ("grants", "account_id = :a"),
        ("credentials", "user_id IN (SELECT user_id FROM S.memberships WHERE account_id = :a)"),
        ("mfa_factors", "user_id IN (SELECT user_id FROM S.memberships WHERE account_id = :a)"),
        ("entries", "account_id = :a"),
        ("documents", "account_id = :a"),
        ("activity_log", "account_id = :a"),
    ]

    /// Tables whose rows are the account's own; `into-live` brings back only these and the
    /// users of its memberships (never the shared password policies).
    static let broughtBack: Set<String> = [
        "accounts", "users", "memberships", "grants", "credentials", "mfa_factors", "entries", "documents", "activity_log",
    ]

    /// `condition` for schema `schema` and account `account`.
    static func condition(_ table: String, schema: String, account: Int64) -> String? {
        tables.first { $0.table == table }.map {
            $0.condition.replacingOccurrences(of: "S.", with: "\(schema).").replacingOccurrences(of: ":a", with: String(account))
        }
    }

    /// Writes into `destination` (a new file) a planner database of `source`'s schema holding
    /// only account `account`'s rows, read in one transaction of `source` (which may be the
    /// live database: nothing is written to it). Returns the rows per table. A table the
    /// planner's contract does not name is refused: whose rows it holds cannot be told.
    @discardableResult
    public static func slice(of source: String, account: Int64, into destination: String) throws -> [String: Int] {
        guard !FileManager.default.fileExists(atPath: destination) else { throw AccountDataError("\(destination) exists already") }
        let db = try Database(path: destination, mode: .readWriteCreate)
        try db.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
        try db.run("ATTACH DATABASE ? AS src", [.text(readOnlyURI(source))])
        return try db.transaction("DEFERRED") {
            let schema = try db.query("SELECT type, name, sql FROM src.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC")
            let names = schema.filter { $0[0].text == "table" }.compactMap { $0[1].text }
            if let unknown = names.first(where: { condition($0, schema: "src", account: account) == nil }) {
                throw AccountDataError(
                    "the database holds a table '\(unknown)' that the planner's contract (schema.sql) does not name; which account its rows "
                        + "belong to cannot be told, so no account is cut out of it")
            }
            guard try !db.query("SELECT 1 FROM src.accounts WHERE id = ?", [.integer(account)]).isEmpty else {
                throw AccountDataError("account \(account) is not in this database")
            }
            for row in schema where row[0].text == "table" { if let sql = row[2].text { try db.execute(sql) } }
            var counts: [String: Int] = [:]
            for (table, _) in tables where names.contains(table) {
                guard let selection = condition(table, schema: "src", account: account) else { continue }
                try db.execute("INSERT INTO main.\(quoted(table)) SELECT * FROM src.\(quoted(table)) WHERE \(selection)")
                counts[table] = Int(try db.query("SELECT count(*) FROM main.\(quoted(table))")[0][0].int ?? 0)
            }
            for row in schema where row[0].text != "table" { if let sql = row[2].text { try db.execute(sql) } }
            return counts
        }
    }

    /// The document paths (`documents/` + blob_path) a planner database names: account
    /// `account`'s, or every account's when nil.
    public static func documentPaths(in database: String, account: Int64?) throws -> [String] {
        let db = try Database(path: database, mode: .readOnly)
        let rows =
            try account.map { try db.query("SELECT blob_path FROM documents WHERE account_id = ? ORDER BY blob_path", [.integer($0)]) }
            ?? db.query("SELECT blob_path FROM documents ORDER BY blob_path")
        return rows.compactMap { $0[0].text.map { "documents/" + $0 } }
    }
}

/// `name` as an SQL identifier (double-quoted, inner quotes doubled): how every table name
/// read from a database goes into SQL here.
func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

/// A read-only SQLite URI for `path` (percent-encoded: a '?' or '#' in a folder name stays a name).
func readOnlyURI(_ path: String) -> String { URL(fileURLWithPath: path).absoluteString + "?mode=ro" }
