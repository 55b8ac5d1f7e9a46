internal import CSQLite
import Foundation

/// An error SQLite reported, with its result code and message. Bound values are never
/// included, so an error can be logged without leaking data.
public struct SQLiteError: Error, CustomStringConvertible, Equatable {
    /// SQLite's result code.
    public let code: Int32
    /// SQLite's own message for it.
    public let message: String
    /// What leafguard was doing: the file opened or the statement run.
    public let context: String

    /// Code, context and message in one line.
    public var description: String { "SQLite error \(code) (\(context)): \(message)" }

    /// SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock.
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }
}

/// A value SQLite stores.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe: use one per thread.
public final class Database {
    fileprivate let handle: OpaquePointer
    /// The database file.
    public let path: String

    /// How the file is opened: read-only (a snapshot source), read-write, or created when missing.
    public enum Mode: Sendable { case readOnly, readWrite, readWriteCreate }

    /// Opens `path`; a busy database is waited for up to `busyTimeoutMilliseconds`.
    public init(path: String, mode: Mode = .readWriteCreate, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: msg, context: "open \(path)")
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), context: context)
    }

    /// Runs one or more statements that take no parameters.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, context: "execute")
        }
    }

    /// Compiles `sql` into a statement to bind and step.
    public func prepare(_ sql: String) throws -> Statement { try Statement(database: self, sql: sql) }

    /// Runs `sql` with `values` bound in order, discarding rows.
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws {
        let s = try prepare(sql)
        try s.bind(values)
        while try s.step() {}
    }

    /// Runs a query and returns every row.
    public func query(_ sql: String, _ values: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        let s = try prepare(sql)
        try s.bind(values)
        var rows: [[SQLiteValue]] = []
        while try s.step() { rows.append(s.row()) }
        return rows
    }

    /// Runs `body` in a transaction, committing on return and rolling back on throw.
    public func transaction<R>(_ kind: String = "IMMEDIATE", _ body: () throws -> R) throws -> R {
        try execute("BEGIN \(kind)")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Copies this database into `destination` with SQLite's online backup API,
    /// `pagesPerStep` pages at a time. Between steps the source's writers proceed; if one
    /// commits, SQLite restarts the copy so the result is one consistent state. `progress`
    /// receives (remaining, total) pages and may throw to abort. Returns the page count copied.
    @discardableResult
    public func backup(
        to destination: Database, pagesPerStep: Int32 = 1024,
        progress: ((Int, Int) throws -> Void)? = nil
    ) throws -> Int {
        guard let b = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            throw destination.error(sqlite3_errcode(destination.handle), "backup init")
        }
        var finished = false
        defer { if !finished { sqlite3_backup_finish(b) } }
        while true {
            let rc = sqlite3_backup_step(b, pagesPerStep)
            let remaining = Int(sqlite3_backup_remaining(b))
            let total = Int(sqlite3_backup_pagecount(b))
            if rc == SQLITE_DONE { break }
            if rc == SQLITE_OK || rc & 0xff == SQLITE_BUSY || rc & 0xff == SQLITE_LOCKED {
                try progress?(remaining, total)
                if rc != SQLITE_OK { usleep(5_000) }
                continue
            }
            // A backup step's error is its result code alone: neither connection's message
            // is set (it would read "not an error"), so the code's own text is the message.
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc)), context: "backup into \(destination.path)")
        }
        let total = Int(sqlite3_backup_pagecount(b))
        finished = true
        let rc = sqlite3_backup_finish(b)
        guard rc == SQLITE_OK else { throw SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc)), context: "backup into \(destination.path)") }
        try progress?(0, total)
        return total
    }
}

/// A prepared statement, finalized when released.
public final class Statement {
    private let handle: OpaquePointer
    private let database: Database

    init(database: Database, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(database.handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc, "prepare") }
        handle = stmt
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    /// Makes the statement ready to run again, its bindings cleared.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds `values` to the statement's parameters, in order from 1.
    public func bind(_ values: [SQLiteValue]) throws {
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch v {
            case .null: rc = sqlite3_bind_null(handle, idx)
            case .integer(let n): rc = sqlite3_bind_int64(handle, idx, n)
            case .real(let d): rc = sqlite3_bind_double(handle, idx, d)
            case .text(let s): rc = sqlite3_bind_text(handle, idx, s, -1, transient)
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(handle, idx, $0.baseAddress, Int32($0.count), transient) }
            }
            guard rc == SQLITE_OK else { throw database.error(rc, "bind parameter \(idx)") }
        }
    }

    /// Advances; true while a row is available.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw database.error(rc, "step")
    }

    /// Columns in the statement's result.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Column `i` of the current row, copied out.
    public func value(_ i: Int) -> SQLiteValue {
        let c = Int32(i)
        switch sqlite3_column_type(handle, c) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, c))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, c))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(handle, c)))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, c))
            guard n > 0, let p = sqlite3_column_blob(handle, c) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    /// Column `i` as an integer, nil unless it is one.
    public func int(_ i: Int) -> Int64? { if case .integer(let n) = value(i) { return n }; return nil }
    /// Column `i` as text, nil unless it is text.
    public func text(_ i: Int) -> String? {
        switch value(i) {
        case .text(let s): return s
        case .integer(let n): return String(n)
        default: return nil
        }
    }

    /// Every column of the current row.
    public func row() -> [SQLiteValue] { (0..<columnCount).map(value) }

    /// The storage class of column `i` in the current row.
    public func columnType(_ i: Int) -> SQLiteColumnType {
        switch sqlite3_column_type(handle, Int32(i)) {
        case SQLITE_INTEGER: return .integer
        case SQLITE_FLOAT: return .real
        case SQLITE_TEXT: return .text
        case SQLITE_BLOB: return .blob
        default: return .null
        }
    }

    /// Column `i` as SQLite converts it to a 64-bit integer, without a copy.
    public func int64(_ i: Int) -> Int64 { sqlite3_column_int64(handle, Int32(i)) }
    /// Column `i` as SQLite converts it to a double, without a copy.
    public func double(_ i: Int) -> Double { sqlite3_column_double(handle, Int32(i)) }

    /// The bytes of a text or blob column, valid only inside `body` (no String is made:
    /// hashing a million rows this way costs a fraction of decoding them).
    public func withColumnBytes<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let c = Int32(i)
        let p: UnsafeRawPointer? =
            sqlite3_column_type(handle, c) == SQLITE_BLOB ? sqlite3_column_blob(handle, c) : sqlite3_column_text(handle, c).map(UnsafeRawPointer.init)
        let n = Int(sqlite3_column_bytes(handle, c))
        return try body(UnsafeRawBufferPointer(start: n > 0 ? p : nil, count: n > 0 ? n : 0))
    }
}

/// SQLite's storage classes.
public enum SQLiteColumnType: Sendable { case null, integer, real, text, blob }

extension SQLiteValue {
    /// The integer, nil unless the value is one.
    public var int: Int64? { if case .integer(let n) = self { return n }; return nil }
    /// The text, nil unless the value is text.
    public var text: String? { if case .text(let s) = self { return s }; return nil }
    /// The value as a number: a REAL, or an INTEGER widened.
    public var double: Double? {
        switch self {
        case .real(let d): return d
        case .integer(let n): return Double(n)
        default: return nil
        }
    }
    /// Whether the value is SQL NULL.
    public var isNull: Bool { self == .null }
}
