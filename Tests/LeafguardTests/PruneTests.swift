import Foundation
import LeafBackup
import LeafRepository
import LeafSQLite
import LeafTestSupport
import Testing

@Suite struct RetentionTests {
    static let utc = TimeZone(identifier: "UTC")!
    static func at(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }
    static func snaps(_ times: [String]) -> [(id: ObjectID, time: Date)] {
        times.enumerated().map { (ObjectID([UInt8](repeating: UInt8($0.offset), count: 16)), at($0.element)) }
    }

    @Test func keepLastKeepsTheNewest() {
        let s = Self.snaps((1...10).map { "2026-11-\(String(format: "%02d", $0))T02:30:00Z" })
        let keep = RetentionPolicy(last: 3).select(s)
        #expect(Set(keep.keys) == Set(s.suffix(3).map(\.id)))
    }

    @Test func dailyKeepsTheNewestOfEachOfTheLastDays() {
        var times: [String] = []
        for d in 1...10 { for h in ["01", "09", "17"] { times.append("2026-11-\(String(format: "%02d", d))T\(h):00:00Z") } }
        let s = Self.snaps(times)
        let keep = RetentionPolicy(daily: 7).select(s)
        #expect(keep.count == 7)
        #expect(keep.keys.allSatisfy { id in s.first { $0.id == id }!.time.description.contains("17:00:00") })
        #expect(keep[s.last!.id] == ["daily"])
    }

    @Test func rulesCombineAndNameTheirReasons() {
        // Weekly snapshots over two years.
        let start = Self.at("2025-01-05T03:00:00Z")
        let s: [(id: ObjectID, time: Date)] = (0..<104).map {
            (ObjectID([UInt8](repeating: 0, count: 15) + [UInt8($0)]), start.addingTimeInterval(Double($0) * 7 * 86400))
        }
        let keep = RetentionPolicy(last: 2, weekly: 4, monthly: 6, yearly: 3).select(s)
        #expect(keep[s.last!.id]?.sorted() == ["last", "monthly", "weekly", "yearly"])
        #expect(keep.values.filter { $0.contains("weekly") }.count == 4)
        #expect(keep.values.filter { $0.contains("monthly") }.count == 6)
        #expect(keep.values.filter { $0.contains("yearly") }.count == 2, "only two years have snapshots")
    }

    @Test func daysAreCountedInTheGivenTimeZone() {
        // 23:30 and 03:30 UTC the next day: two UTC days, one New York day (18:30 and 22:30).
        let s = Self.snaps(["2026-11-10T23:30:00Z", "2026-11-11T03:30:00Z"])
        #expect(RetentionPolicy(daily: 2).select(s).count == 2)
        #expect(RetentionPolicy(daily: 2, timeZone: TimeZone(identifier: "America/New_York")!).select(s).count == 1)
        let ny = RetentionPolicy(daily: 1, timeZone: TimeZone(identifier: "America/New_York")!).select(s)
        #expect(Array(ny.keys) == [s[1].id])
    }

    @Test func aRepeatedFallBackHourIsOneHourlyBucket() {
        // Europe/London, 2026-10-25: 01:30 BST (00:30Z) and 01:30 GMT (01:30Z) are both local 01:30.
        let s = Self.snaps(["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"])
        let keep = RetentionPolicy(hourly: 3, timeZone: TimeZone(identifier: "Europe/London")!).select(s)
        #expect(keep.count == 2)
        #expect(keep[s[0].id] == nil, "the earlier of the two local 01:30s is not kept")
    }

    @Test func simultaneousSnapshotsAreOrderedById() {
        let t = "2026-11-29T02:30:00Z"
        let s = Self.snaps([t, t, t])
        #expect(Array(RetentionPolicy(last: 1).select(s).keys) == [s[2].id])
    }
}

@Suite struct PruneTests {
    /// Three backups; each removes some documents from the planner so older snapshots hold data newer ones do not.
    func history(_ f: BackupFixture) throws -> [BackupResult] {
        var results: [BackupResult] = []
        let db = try Database(path: f.dataDirectory + "/planner.db")
        for round in 0..<3 {
            results.append(try f.backup())
            try db.run("DELETE FROM documents WHERE id IN (SELECT id FROM documents ORDER BY id LIMIT 8)")
            _ = round
        }
        return results
    }

    @Test func pruneForgetsAndRemovesOnlyWhatNoKeptSnapshotNeeds() throws {
        let f = try BackupFixture()
        let results = try history(f)
        let dry = try f.repository(create: false).prune(policy: RetentionPolicy(last: 1), dryRun: true)
        #expect(dry.forgotten.count == 2 && dry.kept.count == 1 && dry.packsRemoved > 0)
        #expect(try f.repository(create: false).snapshots().count == 3, "a dry run changes nothing")
        let before = f.shardFiles().count
        let r = try f.repository(create: false).prune(policy: RetentionPolicy(last: 1), dryRun: false)
        #expect(r.packsRemoved == dry.packsRemoved && r.bytesFreed > 0)
        #expect(f.shardFiles().count == before - 6 * r.packsRemoved)
        let left = try f.repository(create: false).snapshots()
        #expect(left.map(\.id) == [results.last!.snapshot.id])
        let v = try f.repository(create: false).verify(readPacks: { $0 })
        #expect(v.problems.isEmpty, "\(v.problems.prefix(3))")
        let restored = try f.restore()
        #expect(restored.files == results.last!.snapshot.documents.count + 1)
    }

    @Test func pruneAndBackupExcludeEachOther() throws {
        let f = try BackupFixture()
        try f.backup()
        try f.backup()
        let repo = try f.repository(create: false)
        let backupLock = try RegionLock.acquire(.shared, in: repo)
        let files = f.storedFiles()
        #expect { _ = try repo.prune(policy: RetentionPolicy(last: 1), dryRun: false) } throws: { "\($0)".contains("is busy (shared lock") }
        #expect(f.storedFiles() == files, "a refused prune changes nothing")
        backupLock.release()
        let pruneLock = try RegionLock.acquire(.exclusive, in: repo)
        #expect { try f.backup() } throws: { "\($0)".contains("is busy (exclusive lock") }
        pruneLock.release()
        try f.backup()
        #expect(!f.storedFiles().contains { $0.contains("/locks/") }, "locks are released")
    }

    @Test func concurrentBackupAndPruneNeverLoseASnapshotsData() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/prune.yml", "name: prune\nsteps:\n  - prune: {keep_last: 2}\n")
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        for round in 0..<4 {
            let db = try Database(path: d.dir.file("planner-data/planner.db"))
            try db.run("DELETE FROM documents WHERE id IN (SELECT id FROM documents ORDER BY id LIMIT 3)")
            let procs = try ["backup-only", "prune"].map { job -> Process in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: leafguardExecutable)
                p.arguments = ["run", job, "--config", d.config]
                p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
                try p.run()
                return p
            }
            for p in procs { p.waitUntilExit() }
            let verify = try leafguard(["verify", "--read-data", "--config", d.config])
            #expect(verify.status == 0, "round \(round): \(verify.stdout)")
            let r = try leafguard(["restore", "latest", "--to", d.dir.file("r\(round)"), "--config", d.config])
            #expect(r.status == 0, "round \(round): \(r.all)")
        }
    }
}
