import Foundation
import LeafBackup
import LeafRepository
import LeafStorage
import LeafTestSupport
import Testing

@Suite struct ReplicationTests {
    func backupRegion(_ f: BackupFixture, locations: Int = 6) -> [any ObjectStore] {
        f.locations(region: "backup", count: locations)
    }

    func openBackup(_ f: BackupFixture, locations: Int = 6) throws -> Repository {
        try Repository.open(region: "backup", locations: backupRegion(f, locations: locations), master: f.master, create: false)
    }

    @Test func theBackupRegionAloneRestoresAndARerunCopiesNothing() throws {
        let f = try BackupFixture()
        let b = try f.backup()
        let first = try f.repository(create: false).replicate(to: backupRegion(f), signedCopyIsAuthentic: noAuditObjects)
        #expect(first.shardsCopied == b.packsWritten * 6)
        #expect(first.snapshotsCopied == 1 && first.problems.isEmpty)
        let again = try f.repository(create: false).replicate(to: backupRegion(f), signedCopyIsAuthentic: noAuditObjects)
        #expect(again.shardsCopied == 0 && again.metadataCopied == 0 && again.snapshotsCopied == 0)
        try FileManager.default.removeItem(atPath: f.dir.file("regions/primary"))
        _ = try f.restore(into: "from-backup", from: try openBackup(f))
        #expect(sameTree(f.dataDirectory, f.dir.file("from-backup")))
    }

    @Test func anInterruptedCopyResumesAndListsTheSnapshotOnlyWhenComplete() throws {
        let f = try BackupFixture()
        try f.backup()
        _ = try f.repository(create: false).replicate(to: backupRegion(f), signedCopyIsAuthentic: noAuditObjects)
        // Undo part of the copy as if it had been killed midway: some shards, all snapshots and indexes.
        var removed = 0
        for (n, file) in filesBelow(f.dir.file("regions/backup")).enumerated() where file.contains("/data/") && n % 2 == 0 {
            try FileManager.default.removeItem(atPath: f.dir.file("regions/backup/" + file)); removed += 1
        }
        for i in 0..<6 {
            for sub in ["snapshots", "index"] { try? FileManager.default.removeItem(atPath: f.dir.file("regions/backup/loc\(i)/\(sub)")) }
        }
        #expect(try openBackup(f).snapshots().isEmpty, "no snapshot is listed while its data is incomplete")
        let resumed = try f.repository(create: false).replicate(to: backupRegion(f), signedCopyIsAuthentic: noAuditObjects)
        #expect(resumed.shardsCopied == removed)
        #expect(resumed.snapshotsInTarget == 1)
        _ = try f.restore(into: "out", from: try openBackup(f))
        #expect(sameTree(f.dataDirectory, f.dir.file("out")))
    }

    @Test func aLostSourceShardIsRebuiltByteForByte() throws {
        let f = try BackupFixture()
        try f.backup()
        let shard = try #require(f.shardFiles().first { $0.hasSuffix(".1") })
        let path = f.dir.file("regions/primary/" + shard)
        let original = FileManager.default.contents(atPath: path)
        try FileManager.default.removeItem(atPath: path)
        let r = try f.repository(create: false).replicate(to: backupRegion(f), signedCopyIsAuthentic: noAuditObjects)
        #expect(r.shardsRebuilt == 1 && r.problems.isEmpty)
        let name = String(shard.drop { $0 != "/" }.dropFirst())  // data/xx/<id>.1
        let copies = backupRegion(f).compactMap { try? $0.get(name) }
        #expect(copies.count == 1)
        #expect(copies.first.map { Data($0) } == original, "the rebuilt shard is the original ciphertext")
    }

    @Test func aRegionWithOtherLocationCountsRestores() throws {
        let f = try BackupFixture()
        try f.backup()
        _ = try f.repository(create: false).replicate(to: backupRegion(f, locations: 8), signedCopyIsAuthentic: noAuditObjects)
        try FileManager.default.removeItem(atPath: f.dir.file("regions/primary"))
        _ = try f.restore(into: "out", from: try openBackup(f, locations: 8))
        #expect(sameTree(f.dataDirectory, f.dir.file("out")))
    }

    @Test func anUnreadablePackHoldsItsSnapshotBack() throws {
        let f = try BackupFixture()
        try f.backup()
        let victim = try #require(f.shardFiles().first).split(separator: "/").last!.split(separator: ".").first!
        for file in f.shardFiles() where file.contains(String(victim)) && !file.hasSuffix(".0") && !file.hasSuffix(".1") {
            try FileManager.default.removeItem(atPath: f.dir.file("regions/primary/" + file))
        }
        let r = try f.repository(create: false).replicate(to: backupRegion(f), signedCopyIsAuthentic: noAuditObjects)
        #expect(!r.problems.isEmpty && r.problems.contains { $0.contains(String(victim)) })
        #expect(r.snapshotsInTarget == 0, "a snapshot whose data did not arrive is not listed")
    }
}

@Suite struct BothRegionsDamagedTests {
    @Test func whenBothRegionsAreDamagedTheirSurvivingShardsRestoreTogether() throws {
        let f = try BackupFixture()
        try f.backup()
        let backup = f.locations(region: "backup")
        _ = try f.repository(create: false).replicate(to: backup, signedCopyIsAuthentic: noAuditObjects)
        // Each region loses three of six locations, more than its parity, but not the same three.
        for i in [0, 1, 2] { try FileManager.default.removeItem(atPath: f.locationRoot(i)) }
        for i in [3, 4, 5] { try FileManager.default.removeItem(atPath: f.dir.file("regions/backup/loc\(i)")) }
        let primary = try f.repository(create: false)
        let other = try Repository.open(region: "backup", locations: backup, master: f.master, create: false)
        #expect(throws: RepositoryError.self) { _ = try f.restore(into: "alone", from: primary) }
        var restore = Restore(repository: primary)
        restore.otherRegions = [other]
        let r = try restore.run(try primary.resolveSnapshot("latest"), to: f.dir.file("together"), force: false)
        #expect(r.repairedAround.contains { $0.contains("backup: data/") })
        #expect(sameTree(f.dataDirectory, f.dir.file("together")))
    }
}

/// For repository-level replication in tests: these repositories hold no audit objects
/// (the deployment's audit trail writes them), so none is judged authentic.
let noAuditObjects: @Sendable (String, [UInt8]) -> Bool = { _, _ in false }
