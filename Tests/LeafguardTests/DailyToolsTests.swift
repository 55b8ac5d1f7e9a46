import Foundation
import LeafDigest
import LeafJobs
import LeafSQLite
import LeafTestSupport
import Testing

/// The operator's everyday commands (issue 30, point 1): a one-off backup and its dry run,
/// forgetting snapshots and pruning their data, restoring some files, comparing snapshots.
@Suite struct DailyToolsTests {
    func object(_ r: CommandOutput) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    func firstStep(_ r: CommandOutput) throws -> [String: Any] {
        try #require((try object(r)["steps"] as? [[String: Any]])?.first)
    }

    @Test func backupDryRunSaysWhatItWouldAddAndWritesNothing() throws {
        let f = try DisasterFixture()
        let before = try f.snapshotIDs()
        try addDocument(to: f.d, megabytes: 1)
        let dry = try f.run(["backup", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.all)")
        let step = try firstStep(dry)
        let figures = try #require(step["figures"] as? [String: Double])
        #expect(figures["documents_added"] == 1 && figures["documents_changed"] == 0, "\(dry.all)")
        #expect((step["details"] as? [String])?.contains { $0.hasPrefix("new: documents/1/added-") } == true, "\(dry.all)")
        #expect(try f.snapshotIDs() == before, "a dry run writes no snapshot")

        let real = try f.run(["backup", "--json"])
        #expect(real.status == 0, "\(real.all)")
        #expect(try object(real)["outcome"] as? String == "succeeded" && (try object(real)["job"] as? String) == "backup-once")
        #expect(try f.snapshotIDs().count == before.count + 1)
        let history = try f.run(["history", "--json"])
        #expect(history.stdout.contains("\"backup-once\""), "the one-off run is in the history")
        let again = try firstStep(try f.run(["backup", "--dry-run", "--json"]))
        #expect((again["figures"] as? [String: Double])?["documents_added"] == 0, "nothing is new after the backup")
        // A region that does not exist is a usage error naming the regions.
        let wrong = try f.run(["backup", "--region", "nowhere"])
        #expect(wrong.status == 2 && wrong.stderr.contains("defined: primary, backup"), "\(wrong.all)")
    }

    @Test func forgottenSnapshotsLoseTheirDataAtTheNextPrune() throws {
        var f = try DisasterFixture()
        let newest = f.expected[2].id
        // A typo forgets nothing, anywhere.
        let typo = try f.run(["snapshots", "forget", String(newest.prefix(12)), "ffffffff", "--all-regions"])
        #expect(typo.status == 2 && typo.stderr.contains("ffffffff"), "\(typo.all)")
        #expect(try f.snapshotIDs(region: "backup").count == 3)

        let forget = try f.run(["snapshots", "forget", String(newest.prefix(12)), "--all-regions", "--json"])
        #expect(forget.status == 0, "\(forget.all)")
        for region in ["primary", "backup"] { #expect(try !f.snapshotIDs(region: region).contains(newest)) }
        // The newest snapshot alone held the document added before it: prune frees its packs.
        let prune = try f.run(["prune", "--keep-last", "100", "--json"])
        #expect(prune.status == 0, "\(prune.all)")
        let figures = try #require(try firstStep(prune)["figures"] as? [String: Double])
        #expect((figures["packs_removed"] ?? 0) > 0 && (figures["bytes_freed"] ?? 0) > Double(1 << 20), "\(prune.all)")
        f.forgetExpected(newest)
        try f.restoreEverySnapshot("after forget and prune")
        try f.expectVerifyClean("after forget and prune")
    }

    @Test func pruneTakesTheRetentionOfLeafguardYml() throws {
        let f = try DisasterFixture()
        let none = try f.run(["prune"])
        #expect(none.status == 2 && none.stderr.contains("retention:"), "\(none.all)")
        let zero = try f.run(["prune", "--keep-last", "0"])
        #expect(zero.status == 2 && zero.stderr.contains("--keep-daily") && !zero.stderr.contains("(command line)"), "\(zero.all)")
        let text = try String(contentsOfFile: f.config, encoding: .utf8)
        try (text + "\nretention: {keep_last: 1}\n").write(toFile: f.config, atomically: true, encoding: .utf8)
        let dry = try f.run(["prune", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.all)")
        let summary = try firstStep(dry)["summary"] as? String ?? ""
        #expect(summary.contains("'primary': would forget 2 of 3 snapshots") && summary.contains("'backup': would forget 2 of 3 snapshots"), "\(dry.all)")
        #expect(try f.snapshotIDs().count == 3, "a dry run forgets nothing")
        // Flags win over the file.
        let flags = try f.run(["prune", "--keep-last", "2"])
        #expect(flags.status == 0 && flags.stdout.contains("forgot 1 of 3"), "\(flags.all)")
        #expect(try f.snapshotIDs() == Array(f.expected.map(\.id).suffix(2)))
    }

    @Test func nowIsRefusedOutsideADrillCopy() throws {
        let d = try DeploymentFixture()
        let ahead = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2 * 86400))
        for args in [["run", "backup-only", "--now", ahead], ["tick", "--now", ahead]] {
            let r = try leafguard(args + ["--config", d.config])
            #expect(r.status == 2 && r.stderr.contains("drill_copy: true"), "\(args): \(r.all)")
        }
        #expect(!FileManager.default.fileExists(atPath: d.dir.file("regions/primary")), "nothing was written")
        // A dry run writes nothing, so it may pretend; a drill copy may date its runs.
        #expect(try leafguard(["run", "backup-only", "--dry-run", "--now", ahead, "--config", d.config]).status == 0)
        try d.markDrillCopy()
        let drill = try leafguard(["run", "backup-only", "--now", ahead, "--config", d.config])
        #expect(drill.status == 0, "\(drill.all)")
    }

    @Test func restoreIncludeRestoresOneFileWithItsModeAndTime() throws {
        let f = try DisasterFixture()
        let saved = f.expected[2].data
        let one = try #require(filesBelow(saved + "/documents").sorted().last)
        let target = f.file("one-file")
        let r = try f.run(["restore", "latest", "--to", target, "--include", (one as NSString).lastPathComponent])
        #expect(r.status == 0 && r.stdout.contains("1 files") && r.stdout.contains("the database was not among them"), "\(r.all)")
        #expect(filesBelow(target) == ["documents/" + one])
        let original = saved + "/documents/" + one
        let copy = target + "/documents/" + one
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: original))
        var a = stat()
        var b = stat()
        #expect(stat(original, &a) == 0 && stat(copy, &b) == 0)
        #expect(a.st_mode & 0o777 == b.st_mode & 0o777 && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec)
        let nothing = try f.run(["restore", "latest", "--to", f.file("nothing"), "--include", "*.no-such-file"])
        #expect(nothing.status == 2 && !FileManager.default.fileExists(atPath: f.file("nothing")), "\(nothing.all)")
    }

    @Test func diffBetweenSnapshotsNamesTheAddedDocumentsAndRows() throws {
        let f = try DisasterFixture()
        let r = try f.run(["diff", f.expected[0].id, f.expected[2].id, "--json"])
        #expect(r.status == 0, "\(r.all)")
        let report = try object(r)
        let added = Set(filesBelow(f.expected[2].data + "/documents")).subtracting(filesBelow(f.expected[0].data + "/documents"))
        #expect(added.count == 2)
        let documents = try #require(report["documents"] as? [String: [String]])
        #expect(Set(documents["added"] ?? []) == Set(added.map { "documents/" + $0 }) && documents["removed"] == [] && documents["changed"] == [])
        let tables = try #require(report["tables"] as? [[String: Any]])
        let rows = try #require(tables.first { $0["table"] as? String == "documents" })
        #expect(rows["added_count"] as? Int == 2 && rows["removed_count"] as? Int == 0, "\(r.all)")
        let same = try f.run(["diff", f.expected[2].id, "--against", "live"])
        #expect(same.status == 0 && same.stdout.contains("no difference"), "\(same.all)")
    }
}

/// One family's data (issue 30, point 2): a support case "my mother's will was deleted on
/// Tuesday" found with diff, restored alone, and brought back into the live planner without
/// touching any other account.
@Suite struct OneFamilyTests {
    /// Every row of every table, as text, sorted: two equal dumps hold the same rows.
    func dump(_ path: String, where condition: (String) -> String? = { _ in nil }) throws -> [String: [String]] {
        let db = try Database(path: path, mode: .readOnly)
        var out: [String: [String]] = [:]
        for table in try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").compactMap({ $0[0].text }) {
            let filter = condition(table).map { " WHERE \($0)" } ?? ""
            out[table] = try db.query("SELECT * FROM \"\(table)\"\(filter)").map { "\($0)" }.sorted()
        }
        return out
    }

    func digests(_ folder: String) -> [String: String] {
        var out: [String: String] = [:]
        for f in filesBelow(folder) { out[f] = (try? SHA256.hash(fileAt: folder + "/" + f).hexString) ?? "" }
        return out
    }

    @Test func aFamilysDeletedEntriesAndDocumentAreFoundAndBroughtBack() throws {
        let d = try DeploymentFixture()
        let run = { (args: [String]) in try leafguard(args + ["--config", d.config]) }
        #expect(try run(["backup"]).status == 0)
        let live = d.dir.file("planner-data")
        let db = live + "/planner.db"
        let account: Int64 = 2
        let original = try dump(db)
        let originalFiles = digests(live + "/documents")
        let planner = try Database(path: db, mode: .readWrite)
        let entries = try planner.query("SELECT id FROM entries WHERE account_id = ? ORDER BY id LIMIT 3", [.integer(account)]).compactMap { $0[0].int }
        let document = try #require(try planner.query("SELECT id, blob_path FROM documents WHERE account_id = ? LIMIT 1", [.integer(account)]).first)
        let documentID = try #require(document[0].int)
        let path = "documents/" + (try #require(document[1].text))
        #expect(entries.count == 3)
        try planner.run("DELETE FROM entries WHERE id IN (\(entries.map(String.init).joined(separator: ",")))")
        try planner.run("DELETE FROM documents WHERE id = ?", [.integer(documentID)])
        #expect(unlink(live + "/" + path) == 0)

        // 1. diff finds exactly what was lost.
        let diff = try run(["diff", "latest", "--account", "\(account)", "--json"])
        #expect(diff.status == 0, "\(diff.all)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as? [String: Any])
        let tables = try #require(report["tables"] as? [[String: Any]])
        #expect(Set(tables.compactMap { $0["table"] as? String }) == ["entries", "documents"], "\(diff.all)")
        #expect(tables.first { $0["table"] as? String == "entries" }?["removed"] as? [String] == entries.map { "id=\($0)" })
        #expect(tables.first { $0["table"] as? String == "documents" }?["removed"] as? [String] == ["id=\(documentID)"])
        #expect((report["documents"] as? [String: [String]])?["removed"] == [path])

        // 2. The family alone, restored: its rows only, its documents only, each intact.
        let alone = d.dir.file("family-\(account)")
        let restored = try run(["restore", "latest", "--account", "\(account)", "--to", alone])
        #expect(restored.status == 0, "\(restored.all)")
        let slice = try dump(alone + "/planner.db")
        let expected = try dump(
            d.dir.file("planner-data/planner.db"),
            where: { table in
                let members = "SELECT user_id FROM memberships WHERE account_id = \(account)"
                switch table {
                case "accounts": return "id = \(account)"
                case "users": return "id IN (\(members))"
                case "credentials", "mfa_factors": return "user_id IN (\(members))"
                case "password_policies": return nil
                default: return "account_id = \(account)"
                }
            })
        // The live data lost three entries and a document row since the snapshot.
        #expect(slice["entries"]?.count == (expected["entries"]?.count ?? 0) + 3)
        #expect(slice["documents"]?.count == (expected["documents"]?.count ?? 0) + 1)
        for table in expected.keys where !["entries", "documents"].contains(table) {
            #expect(slice[table] == expected[table], "table \(table) of the account's database")
        }
        let familyFiles = digests(alone + "/documents")
        #expect(!familyFiles.isEmpty && familyFiles.keys.allSatisfy { $0.hasPrefix("\(account)/") })
        #expect(familyFiles == originalFiles.filter { $0.key.hasPrefix("\(account)/") })

        // 3. Brought back into the live planner: everything as it was, every other account untouched.
        let back = try run(["restore", "latest", "--account", "\(account)", "--into-live", "--yes"])
        #expect(back.status == 0 && back.stdout.contains("entries 3") && back.stdout.contains("documents 1"), "\(back.all)")
        #expect(try dump(db) == original, "the live database is as it was before the deletion, row for row")
        #expect(digests(live + "/documents") == originalFiles, "and every document")
        let clean = try run(["diff", "latest", "--account", "\(account)"])
        #expect(clean.status == 0 && clean.stdout.contains("no difference"), "\(clean.all)")
        // A second time finds nothing to bring back and writes nothing.
        let twice = try run(["restore", "latest", "--account", "\(account)", "--into-live", "--yes"])
        #expect(twice.status == 0 && twice.stdout.contains("lacks none"), "\(twice.all)")
        // Without a terminal and without --yes, nothing is written.
        let unconfirmed = try run(["restore", "latest", "--account", "\(account)", "--into-live"])
        #expect(unconfirmed.status == 2 && unconfirmed.stderr.contains("--yes"), "\(unconfirmed.all)")
        let nobody = try run(["restore", "latest", "--account", "999999", "--to", d.dir.file("nobody")])
        #expect(nobody.status == 2 && nobody.stderr.contains("account 999999 is not in this database"), "\(nobody.all)")
    }

    @Test func aChangedRowOfAnotherAccountIsNeverTouched() throws {
        let d = try DeploymentFixture()
        let run = { (args: [String]) in try leafguard(args + ["--config", d.config]) }
        #expect(try run(["backup"]).status == 0)
        let db = d.dir.file("planner-data/planner.db")
        let planner = try Database(path: db, mode: .readWrite)
        // Account 1 changes an entry and loses one; account 2 loses one. Bringing back
        // account 2 restores its row only: account 1's change and loss stay as they are.
        let one = try planner.query("SELECT id FROM entries WHERE account_id = 1 ORDER BY id LIMIT 2").compactMap { $0[0].int }
        let two = try #require(try planner.query("SELECT id FROM entries WHERE account_id = 2 LIMIT 1").first?[0].int)
        try planner.run("UPDATE entries SET body = 'changed since' WHERE id = ?", [.integer(one[0])])
        try planner.run("DELETE FROM entries WHERE id IN (?, ?)", [.integer(one[1]), .integer(two)])
        let before = try dump(db, where: { $0 == "entries" ? "account_id != 2" : nil })
        let back = try run(["restore", "latest", "--account", "2", "--into-live", "--yes"])
        #expect(back.status == 0 && back.stdout.contains("entries 1"), "\(back.all)")
        #expect(try dump(db, where: { $0 == "entries" ? "account_id != 2" : nil }) == before)
        #expect(try planner.query("SELECT count(*) FROM entries WHERE id = ?", [.integer(two)]).first?[0].int == 1)
        #expect(try planner.query("SELECT count(*) FROM entries WHERE id = ?", [.integer(one[1])]).first?[0].int == 0)
    }
}

/// Progress for long work (issue 30, point 7): done of total, the rate, and the time left.
@Suite struct ProgressLineTests {
    @Test func aLineSaysDoneTotalRateAndTimeLeft() {
        #expect(Progress.line("restore", done: 512 << 20, total: 2048 << 20, seconds: 4) == "restore: 512.0 MiB / 2.00 GiB (25%), 128.0 MiB/s, ETA 0:12")
        #expect(
            Progress.line("verify primary", done: 30, total: 120, seconds: 10, unit: "packs")
                == "verify primary: 30 packs / 120 packs (25%), 3.0 packs/s, ETA 0:30")
        // No total: no percentage and no ETA; too early or nothing done: no rate.
        #expect(Progress.line("replicate", done: 3 << 20, total: nil, seconds: 3) == "replicate: 3.0 MiB, 1.0 MiB/s")
        #expect(Progress.line("backup", done: 0, total: 100, seconds: 5) == "backup: 0 B / 100 B (0%)")
        #expect(Progress.line("backup", done: 10, total: 100, seconds: 0.1) == "backup: 10 B / 100 B (10%)")
        #expect(Progress.line("backup", done: 1, total: 7201, seconds: 1) == "backup: 1 B / 7.0 KiB (0%), 1 B/s, ETA 2:00:00")
    }
}
