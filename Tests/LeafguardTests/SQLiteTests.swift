import Foundation
import LeafSQLite
import LeafTestSupport
import Testing

@Suite struct SQLiteTests {
    @Test func boundValuesRoundTripAndErrorsCarryTheCode() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("t.db"))
        try db.execute("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d REAL)")
        try db.run("INSERT INTO t VALUES (?,?,?,?)", [.integer(42), .text("héllo"), .blob([0, 1, 255]), .real(1.5)])
        let rows = try db.query("SELECT a, b, c, d FROM t")
        #expect(rows == [[.integer(42), .text("héllo"), .blob([0, 1, 255]), .real(1.5)]])
        #expect(throws: SQLiteError.self) { try db.execute("SELECT * FROM missing") }
        do { try db.run("INSERT INTO nope VALUES (?)", [.text("secret-value")]); Issue.record("must throw") } catch let e as SQLiteError {
            #expect(!e.description.contains("secret-value"), "bound values never appear in errors")
        }
    }

    @Test func transactionRollsBackOnThrow() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.file("t.db"))
        try db.execute("CREATE TABLE t (a INTEGER)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)"); throw Boom()
            }
        }
        #expect(try db.query("SELECT count(*) FROM t")[0][0] == .integer(0))
    }

    @Test func onlineBackupCopiesAConsistentState() throws {
        let dir = TemporaryDirectory()
        let src = try Database(path: dir.file("src.db"))
        try src.execute("PRAGMA journal_mode=WAL; CREATE TABLE t (n INTEGER PRIMARY KEY, pad BLOB)")
        try src.transaction { for i in 1...2000 { try src.run("INSERT INTO t VALUES (?, randomblob(1000))", [.integer(Int64(i))]) } }
        let dst = try Database(path: dir.file("copy.db"))
        var calls = 0
        let pages = try src.backup(to: dst, pagesPerStep: 100) { _, _ in calls += 1 }
        #expect(pages > 400)
        #expect(calls > 3, "progress is reported between steps")
        #expect(try dst.query("SELECT count(*), max(n) FROM t")[0] == [.integer(2000), .integer(2000)])
        #expect(try dst.query("PRAGMA integrity_check")[0][0] == .text("ok"))
    }

    /// A copy that does not fit (here the destination may hold 5 pages; in life the state
    /// folder's disk is full) says so and names the file, where it said "not an error".
    @Test func aBackupThatDoesNotFitSaysSoAndNamesTheFile() throws {
        let dir = TemporaryDirectory()
        let src = try Database(path: dir.file("src.db"))
        try src.execute("CREATE TABLE t (pad BLOB)")
        try src.transaction { for _ in 0..<100 { try src.run("INSERT INTO t VALUES (randomblob(2000))") } }
        let dst = try Database(path: dir.file("copy.db"))
        try dst.execute("PRAGMA max_page_count = 5")
        #expect { try src.backup(to: dst, pagesPerStep: 10) } throws: { e in
            guard let e = e as? SQLiteError else { return false }
            return e.code & 0xff == 13 && "\(e)".contains("database or disk is full") && "\(e)".contains(dir.file("copy.db"))
        }
    }

    @Test func backupCanBeAbortedFromTheProgressCallback() throws {
        let dir = TemporaryDirectory()
        let src = try Database(path: dir.file("src.db"))
        try src.execute("CREATE TABLE t (pad BLOB)")
        try src.transaction { for _ in 0..<500 { try src.run("INSERT INTO t VALUES (randomblob(2000))") } }
        let dst = try Database(path: dir.file("copy.db"))
        struct Stop: Error {}
        #expect(throws: Stop.self) { try src.backup(to: dst, pagesPerStep: 10) { _, _ in throw Stop() } }
    }
}
