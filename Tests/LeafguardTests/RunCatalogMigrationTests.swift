import Foundation
import LeafScheduler
import LeafTestSupport
import Testing

/// A catalog written before the `missed` column gets it when a scheduler of this version
/// first opens it, filled from the entries as they were written; opening it again, or from
/// two processes, changes nothing more.
@Suite struct RunCatalogMigrationTests {
    @Test func anOldCatalogGetsItsMissedCountsOnce() throws {
        let dir = TemporaryDirectory("leafguard-catalog")
        let db = dir.file("catalog.db")
        // The schema and the entries of the version before, as it wrote them.
        let old = """
            CREATE TABLE runs(
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              job TEXT NOT NULL, trigger TEXT NOT NULL, scheduled_for REAL, attempt INTEGER NOT NULL,
              started REAL NOT NULL, finished REAL, outcome TEXT NOT NULL, dry_run INTEGER NOT NULL,
              host TEXT NOT NULL, pid INTEGER NOT NULL, user TEXT NOT NULL, summary TEXT NOT NULL,
              bytes REAL NOT NULL DEFAULT 0, lock_token TEXT NOT NULL, steps TEXT NOT NULL DEFAULT '[]');
            INSERT INTO runs(job, trigger, attempt, started, finished, outcome, dry_run, host, pid, user, summary, lock_token)
              VALUES ('nightly', 'schedule', 0, 1, 1, 'missed', 0, 'h', 1, 'u', '3 runs (due 2026-11-01T02:30:00Z … 2026-11-03T02:30:00Z) missed: downtime', ''),
                     ('nightly', 'schedule', 0, 2, 2, 'missed', 0, 'h', 1, 'u', '1 run (due 2026-11-04T02:30:00Z) missed: catch_up none', ''),
                     ('nightly', 'schedule', 1, 3, 4, 'succeeded', 0, 'h', 1, 'u', '12 packs written', '');
            """
        #expect(try runCommand("/usr/bin/sqlite3", [db, old]).status == 0)

        let catalog = try RunCatalog(stateDirectory: dir.path)
        _ = try RunCatalog(stateDirectory: dir.path)  // a second open: nothing added twice
        let counts = try runCommand("/usr/bin/sqlite3", [db, "SELECT missed FROM runs ORDER BY id"])
        #expect(counts.stdout.split(separator: "\n") == ["3", "1", "0"], "\(counts.all)")
        // The entries themselves read as before.
        #expect(try catalog.run(id: 3)?.summary == "12 packs written")

        // A new entry records its count in the column.
        let now = Date()
        let fires = try #require(MissedFires([now.addingTimeInterval(-120), now.addingTimeInterval(-60)]))
        try catalog.recordMissed(job: "nightly", fires: fires, reason: "downtime", at: now)
        let last = try runCommand("/usr/bin/sqlite3", [db, "SELECT missed FROM runs ORDER BY id DESC LIMIT 1"])
        #expect(last.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        // The version is recorded: the next open applies nothing.
        let version = try runCommand("/usr/bin/sqlite3", [db, "PRAGMA user_version"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
    }

    @Test func aCatalogOfANewerLeafguardIsRefusedNotMisread() throws {
        let dir = TemporaryDirectory("leafguard-catalog")
        _ = try RunCatalog(stateDirectory: dir.path)
        #expect(try runCommand("/usr/bin/sqlite3", [dir.file("catalog.db"), "PRAGMA user_version = 99"]).status == 0)
        #expect(throws: SchedulerError.self) { _ = try RunCatalog(stateDirectory: dir.path) }
    }
}
