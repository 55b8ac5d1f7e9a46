import Foundation
import LeafBackup
import LeafTestSupport
import Testing

@Suite struct DisasterTests {
    /// (a) The host is lost after two rotations: a new host with leafguard.yml and the key
    /// alone restores every snapshot from either region, and backups go on.
    @Test(arguments: [false, true]) func aLostStateFolderLosesNothing(passphrase: Bool) throws {
        let f = try DisasterFixture(passphrase: passphrase)
        try FileManager.default.removeItem(atPath: f.file("state"))
        try f.restoreEverySnapshot("host lost")
        try f.expectVerifyClean("host lost")
        // The state folder is a cache again, and the chain of work goes on.
        #expect(FileManager.default.fileExists(atPath: f.file("state/keys/keyring.json")))
        try addDocument(to: f.d, megabytes: 1)
        try f.expectSuccess(["run", "nightly"])
        #expect(try f.snapshotIDs(region: "backup").count == 4)
        let status = try f.run(["keys", "status"])
        #expect(status.status == 0 && status.stdout.contains("3"), "\(status.all)")
    }

    /// (b) The primary region is lost: the next backup refuses to start a second repository
    /// and names the rebuild; the rebuild brings it all back and backups continue.
    @Test func aLostRegionIsRefusedThenRebuilt() throws {
        let f = try DisasterFixture()
        try f.expectSuccess(["scan", "--out", f.file("scan")])  // an archived report to bring back
        let reportsBefore = filesBelow(f.file("regions/backup/loc0/reports"))
        #expect(!reportsBefore.isEmpty)
        try FileManager.default.removeItem(atPath: f.file("regions/primary"))
        let refused = try f.run(["run", "nightly"])
        #expect(refused.status == 1)
        #expect(refused.all.contains("leafguard replicate --from backup --to primary"), "\(refused.all)")
        #expect(filesBelow(f.file("regions/primary")).isEmpty, "nothing written into the lost region")
        // The backup region is untouched and alone restores everything.
        try f.restoreEverySnapshot("primary lost", regions: ["backup"])

        try f.expectSuccess(["replicate", "--from", "backup", "--to", "primary"])
        #expect(filesBelow(f.file("regions/primary/loc0/reports")) == reportsBefore, "archived reports came back")
        #expect(!filesBelow(f.file("regions/primary/loc0/audit")).isEmpty, "audit objects came back")
        #expect(FileManager.default.fileExists(atPath: f.file("regions/primary/loc0/keyring")))
        try f.restoreEverySnapshot("primary rebuilt")
        try f.expectVerifyClean("primary rebuilt")
        // A rerun does nothing, and backups continue into the same repository.
        let again = try f.run(["replicate", "--from", "backup", "--to", "primary"])
        #expect(again.status == 0 && again.stdout.contains("0 shards"), "\(again.all)")
        try addDocument(to: f.d, megabytes: 1)
        try f.expectSuccess(["run", "nightly"])
        #expect(try f.snapshotIDs(region: "backup").count == 4)
    }

    /// (c) A typo in the primary's path is a lost region too: refused, nothing created there.
    @Test func aMistypedRegionPathCreatesNothing() throws {
        let f = try DisasterFixture()
        let text = try String(contentsOfFile: f.config, encoding: .utf8)
        try text.replacingOccurrences(of: "path: regions/primary,", with: "path: regions/primray,")
            .write(toFile: f.config, atomically: true, encoding: .utf8)
        let refused = try f.run(["run", "nightly"])
        #expect(refused.status == 1)
        #expect(refused.all.contains("holds no repository") && refused.all.contains("path"), "\(refused.all)")
        #expect(filesBelow(f.file("regions/primray")).isEmpty)
        // Replication into a region holding another repository is refused, naming both ids.
        try text.write(toFile: f.config, atomically: true, encoding: .utf8)
        let other = try DisasterFixture(fresh: true)
        try FileManager.default.removeItem(atPath: f.file("regions/backup"))
        try FileManager.default.copyItem(atPath: other.file("regions/backup"), toPath: f.file("regions/backup"))
        let mixed = try f.run(["replicate", "--from", "primary", "--to", "backup"])
        #expect(mixed.status != 0 && mixed.all.contains("different repositories"), "\(mixed.all)")
    }

    /// `leafguard init` creates the repository once; a second init is refused.
    @Test func initCreatesTheRepositoryOnce() throws {
        let d = try DeploymentFixture()
        let first = try leafguard(["init", "--config", d.config])
        #expect(first.status == 0, "\(first.all)")
        #expect(FileManager.default.fileExists(atPath: d.dir.file("regions/backup/loc5/config")))
        #expect(FileManager.default.fileExists(atPath: d.dir.file("regions/backup/loc5/keyring")))
        let second = try leafguard(["init", "--config", d.config])
        #expect(second.status == 1 && second.all.contains("already holds a repository"), "\(second.all)")
    }
}

/// Damage in both regions at once, repaired in one pass; restores that cannot go wrong.
@Suite struct RepairAndRestoreDisasterTests {
    /// Flips one byte in the middle of a file.
    func flipByte(_ path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// (d) Three primary locations gone, and the backup's copy of one of their shards corrupt:
    /// one repair pass heals both regions from the authentic shards of the two together.
    @Test func threeLocationsLostAndACorruptCopyElsewhereHealInOnePass() throws {
        let f = try DisasterFixture()
        let lostShard = try #require(filesBelow(f.file("regions/primary/loc0/data")).first)
        let inBackup = try #require((0..<6).map { f.file("regions/backup/loc\($0)/data/" + lostShard) }.first { FileManager.default.fileExists(atPath: $0) })
        try flipByte(inBackup)
        for i in 0..<3 { try FileManager.default.removeItem(atPath: f.file("regions/primary/loc\(i)")) }
        let repair = try f.run(["verify", "--read-data", "--repair"])
        #expect(repair.status == 0, "one pass repairs everything: \(repair.all)")
        #expect(!repair.stdout.contains("does not authenticate, not written"))
        try f.expectVerifyClean("after one repair")
        try f.restoreEverySnapshot("after one repair")
    }

    /// (e) Primary loc0–2 and backup loc3–5 gone: each region alone is below `data` shards
    /// for every pack, together they hold all; one pass brings both to full redundancy.
    @Test func halfOfEachRegionLostIsRepairedInOnePass() throws {
        let f = try DisasterFixture()
        for i in 0..<3 { try FileManager.default.removeItem(atPath: f.file("regions/primary/loc\(i)")) }
        for i in 3..<6 { try FileManager.default.removeItem(atPath: f.file("regions/backup/loc\(i)")) }
        let repair = try f.run(["verify", "--read-data", "--repair"])
        #expect(repair.status == 0, "\(repair.all)")
        #expect(repair.stdout.contains("repaired") && !repair.stdout.contains("PROBLEM"), "\(repair.all)")
        try f.expectVerifyClean("after one repair")
        // Full redundancy: every location of both regions holds its shards again.
        for region in ["primary", "backup"] {
            for i in 0..<6 { #expect(!filesBelow(f.file("regions/\(region)/loc\(i)/data")).isEmpty, "\(region)/loc\(i) has no shards") }
        }
        try f.restoreEverySnapshot("after one repair")
        // (j) the independent restore agrees on the result.
        let r = try runCommand("/usr/bin/python3", [packageRoot + "/docs/recover.py", f.file("regions/backup"), f.file("keys/master.key"), f.file("by-hand")])
        #expect(r.status == 0, "\(r.all)")
        #expect(sameTree(f.expected.last!.data, f.file("by-hand")))
    }

    /// (f) `restore --force` over a live planner folder whose WAL holds changes made after
    /// the snapshot: the restored database is the snapshot's, with no WAL beside it.
    @Test func aForcedRestoreNeverMergesAStaleWAL() throws {
        let f = try DisasterFixture()
        let live = f.file("live")
        try f.expectSuccess(["restore", "latest", "--to", live])
        // A writer that dies without checkpointing leaves its changes in planner.db-wal.
        let writer = """
            import os, sqlite3
            c = sqlite3.connect("\(live)/planner.db")
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA wal_autocheckpoint=0")
            c.execute("CREATE TABLE created_after_the_snapshot (x)")
            c.commit()
            os._exit(0)
            """
        #expect(try runCommand("/usr/bin/python3", ["-c", writer]).status == 0)
        #expect(FileManager.default.fileExists(atPath: live + "/planner.db-wal"))
        try f.expectSuccess(["restore", "latest", "--to", live, "--force"])
        #expect(!FileManager.default.fileExists(atPath: live + "/planner.db-wal"))
        let tables = try runCommand("/usr/bin/sqlite3", [live + "/planner.db", ".tables"])
        #expect(tables.status == 0 && !tables.stdout.contains("created_after_the_snapshot"), "\(tables.all)")
        #expect(sameTree(f.expected.last!.data, live))
    }

    /// (g) A restore killed at moments spread over its run leaves the target as it was
    /// (absent, or the complete earlier content) and nothing else; the next one succeeds.
    @Test func aKilledRestoreLeavesTheTargetAsItWas() throws {
        let f = try DisasterFixture()
        let t0 = Date()
        try f.expectSuccess(["restore", "latest", "--to", f.file("timed")])
        let duration = max(Date().timeIntervalSince(t0), 0.05)
        let target = f.file("target")
        for round in 0..<6 {
            let p = try startLeafguard(["restore", "latest", "--to", target, "--force", "--config", f.config])
            usleep(UInt32(Double(round) / 6 * duration * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            if FileManager.default.fileExists(atPath: target) {
                #expect(sameTree(f.expected.last!.data, target), "round \(round): the target holds a partial restore")
            }
            // Only the target and the scratch folder of the killed run may be there.
            let strays = try FileManager.default.contentsOfDirectory(atPath: f.d.dir.path).filter { $0.contains("leafguard-old") }
            #expect(strays.isEmpty, "round \(round): \(strays)")
        }
        try f.expectSuccess(["restore", "latest", "--to", target, "--force"])
        #expect(sameTree(f.expected.last!.data, target))
        let scratch = try FileManager.default.contentsOfDirectory(atPath: f.d.dir.path).filter { $0.contains("leafguard-restore") }
        #expect(scratch.isEmpty, "the next restore removes the scratch folders of killed ones: \(scratch)")
    }

    /// Each document comes back with the mode and modification time it had, so the next
    /// backup of a restored folder reads nothing again.
    @Test func documentsComeBackWithTheirModeAndTime() throws {
        let d = try DeploymentFixture()
        let doc = try #require(filesBelow(d.dir.file("planner-data/documents")).first)
        let path = d.dir.file("planner-data/documents/" + doc)
        chmod(path, 0o640)
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 250_000_000), timespec(tv_sec: 1_700_000_000, tv_nsec: 250_000_000)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        #expect(try leafguard(["restore", "latest", "--to", d.dir.file("back"), "--config", d.config]).status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: d.dir.file("back/documents/" + doc))
        #expect(attributes[.posixPermissions] as? Int == 0o640)
        #expect((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 == 1_700_000_000.25)
    }

    /// A forged snapshot path cannot reach outside the target (checked before any write).
    @Test func snapshotPathsOutsideTheTargetAreRefused() throws {
        for bad in ["../x", "documents/../../x", "/etc/x", "documents//x", "./planner.db", "a\u{0}b", ""] {
            #expect(throws: (any Error).self, "\(bad.debugDescription)") { try RestorePathCheck.check(bad) }
        }
        for good in ["planner.db", "documents/1/a.pdf", "documents/..hidden"] { try RestorePathCheck.check(good) }
    }
}

/// The audit log outlives the host, and its tail cannot be cut unseen.
@Suite struct AuditDisasterTests {
    /// (h) Every audited command ends with a signed checkpoint in the regions: cutting the
    /// log's last entries after a restore or a verify is caught, here and on a new host.
    @Test func cuttingTheLogsLastEntriesIsCaught() throws {
        let f = try DisasterFixture()
        try f.expectSuccess(["restore", "latest", "--to", f.file("r1")])
        try f.expectSuccess(["verify"])
        try f.expectSuccess(["audit", "verify"])
        let path = f.file("state/audit/audit.log")
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.last?.contains("\"verify\"") == true, "the verify was recorded last")
        lines.removeLast(2)
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let v = try f.run(["audit", "verify"])
        #expect(v.status == 1 && v.stdout.contains("truncated"), "\(v.all)")
        // With the state folder's checkpoints gone too, the regions' copies still catch it.
        for name in try FileManager.default.contentsOfDirectory(atPath: f.file("state/audit")) where name.hasPrefix("checkpoint-") {
            try FileManager.default.removeItem(atPath: f.file("state/audit/" + name))
        }
        let again = try f.run(["audit", "verify"])
        #expect(again.status == 1 && again.stdout.contains("truncated"), "\(again.all)")
    }

    /// (i) A new host rebuilds the log from the regions and continues the same chain.
    @Test func aNewHostContinuesTheAuditChain() throws {
        let f = try DisasterFixture()
        try f.expectSuccess(["audit", "verify"])
        let before = try String(contentsOfFile: f.file("state/audit/audit.log"), encoding: .utf8).split(separator: "\n").count
        #expect(before > 5)
        try FileManager.default.removeItem(atPath: f.file("state"))
        try addDocument(to: f.d, megabytes: 1)
        try f.expectSuccess(["run", "nightly"])
        let v = try f.run(["audit", "verify"])
        #expect(v.status == 0 && v.stdout.contains("intact"), "\(v.all)")
        let entries = try String(contentsOfFile: f.file("state/audit/audit.log"), encoding: .utf8).split(separator: "\n")
        #expect(entries.count > before, "the old entries came back and the new ones follow them")
        #expect(entries.first?.contains("\"seq\":1,") == true)
        let show = try f.run(["audit", "show", "--json"])
        #expect(show.status == 0 && show.stdout.contains("keys rotate"), "the rotations before the host was lost are still in the log")
    }
}
