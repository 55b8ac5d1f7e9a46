import Foundation
import LeafBackup
import LeafJobs
import LeafKeys
import LeafRepository
import LeafSodium
import LeafStorage
import LeafTestSupport
import Testing

@Suite struct VerifyTests {
    func readAll(_ packs: [PackEntry]) -> [PackEntry] { packs }

    @Test func lostLocationsAreFoundAndRepairRestoresFullRedundancy() throws {
        let f = try BackupFixture()
        try f.backup()
        let before = Dictionary(uniqueKeysWithValues: f.shardFiles().map { ($0, FileManager.default.contents(atPath: f.dir.file("regions/primary/" + $0))!) })
        try FileManager.default.removeItem(atPath: f.locationRoot(2))
        try FileManager.default.removeItem(atPath: f.locationRoot(5))
        let found = try f.repository(create: false).verify(readPacks: readAll)
        #expect(found.unrepaired.contains { $0.kind == .missing && $0.location == "primary/loc2" && !$0.snapshots.isEmpty })
        #expect(found.unrepaired.contains { $0.kind == .missingCopy && $0.object == "config" })
        let repaired = try f.repository(create: false).verify(readPacks: readAll, repair: true)
        #expect(!repaired.problems.isEmpty && repaired.unrepaired.isEmpty)
        let after = try f.repository(create: false).verify(readPacks: readAll)
        #expect(after.problems.isEmpty)
        // Rebuilt shards are the original bytes.
        for (name, bytes) in before { #expect(FileManager.default.contents(atPath: f.dir.file("regions/primary/" + name)) == bytes, "\(name)") }
    }

    @Test func aFlippedByteAndATruncatedShardAreFoundByReadingAndRepaired() throws {
        let f = try BackupFixture()
        try f.backup()
        let shards = f.shardFiles()
        let flipped = f.dir.file("regions/primary/" + shards[0])
        let truncated = f.dir.file("regions/primary/" + shards[7])
        let originals = [flipped: FileManager.default.contents(atPath: flipped)!, truncated: FileManager.default.contents(atPath: truncated)!]
        var bytes = [UInt8](originals[flipped]!); bytes[bytes.count - 5] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: flipped))
        try originals[truncated]!.prefix(100).write(to: URL(fileURLWithPath: truncated))
        let structureOnly = try f.repository(create: false).verify()
        #expect(structureOnly.problems.isEmpty, "a present shard passes the structure check")
        let found = try f.repository(create: false).verify(readPacks: readAll)
        #expect(found.unrepaired.filter { $0.kind == .corrupt }.count == 2)
        let repaired = try f.repository(create: false).verify(readPacks: readAll, repair: true)
        #expect(repaired.unrepaired.isEmpty)
        for (path, original) in originals { #expect(FileManager.default.contents(atPath: path) == original) }
        #expect(!f.storedFiles().contains { $0.hasSuffix(".repair") })
    }

    @Test func strayFilesAreReportedAndLeftAlone() throws {
        let f = try BackupFixture()
        try f.backup()
        try f.dir.write("regions/primary/loc3/notes.txt", "someone's file")
        let r = try f.repository(create: false).verify(readPacks: readAll, repair: true)
        #expect(r.problems.map(\.kind) == [.stray])
        #expect(r.unrepaired.isEmpty)
        #expect(FileManager.default.fileExists(atPath: f.dir.file("regions/primary/loc3/notes.txt")))
    }

    @Test func moreThanParityLostIsRepairedFromTheOtherRegion() throws {
        let f = try BackupFixture()
        try f.backup()
        let backup = f.locations(region: "backup")
        _ = try f.repository(create: false).replicate(to: backup, signedCopyIsAuthentic: noAuditObjects)
        for i in [0, 1, 4] { try FileManager.default.removeItem(atPath: f.locationRoot(i)) }
        let other = try Repository.open(region: "backup", locations: backup, master: f.master, create: false)
        let r = try f.repository(create: false).verify(readPacks: readAll, repair: true, otherRegions: [other])
        #expect(r.unrepaired.isEmpty, "\(r.unrepaired.prefix(3))")
        #expect(try f.repository(create: false).verify(readPacks: readAll).problems.isEmpty)
        try FileManager.default.removeItem(atPath: f.dir.file("regions/backup"))
        _ = try f.restore()
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
    }

    @Test func successiveSampledRunsCoverEveryPackAndTheCommandExitsOneWhileProblemsRemain() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let first = try leafguard(["verify", "--read-data=50", "--config", d.config])
        #expect(first.status == 0, "\(first.all)")
        let second = try leafguard(["verify", "--read-data=50", "--config", d.config])
        #expect(second.status == 0)
        let ledger = try JSONDecoder().decode([String: Double].self, from: Data(contentsOf: URL(fileURLWithPath: d.dir.file("state/verify-primary.json"))))
        var keyBytes = d.keyBytes
        let master = MasterKey(version: 1, secret: try SecureBytes(consuming: &keyBytes))
        let stores: [any ObjectStore] = (0..<6).map { LocalStore(name: "p\($0)", root: d.dir.file("regions/primary/loc\($0)")) }
        let index = try Repository.open(region: "primary", locations: stores, master: master, create: false).loadIndex()
        #expect(Set(ledger.keys) == Set(index.packs.keys.map(\.hex)), "two 50 % runs read every pack")
        try FileManager.default.removeItem(atPath: d.dir.file("regions/primary/loc3"))
        let broken = try leafguard(["verify", "--config", d.config])
        #expect(broken.status == 1 && broken.stdout.contains("PROBLEM") && broken.stdout.contains("--repair"))
        let fixed = try leafguard(["verify", "--read-data", "--repair", "--config", d.config])
        #expect(fixed.status == 0, "\(fixed.all)")
        #expect(try leafguard(["verify", "--read-data", "--config", d.config]).status == 0)
    }
}

@Suite struct VerifyCopyRepairTests {
    @Test func aMissingCopyIsRepairedFromAnAuthenticCopyOnly() throws {
        let f = try BackupFixture()
        let b = try f.backup()
        let name = "snapshots/\(b.snapshot.id.hex)"
        // Every surviving copy but one is corrupt; the repair must take the authentic one.
        let original = FileManager.default.contents(atPath: f.locationRoot(5) + "/" + name)!
        try FileManager.default.removeItem(atPath: f.locationRoot(0) + "/" + name)
        for i in 1...4 {
            var bytes = [UInt8](original); bytes[bytes.count - 3] ^= 1
            try Data(bytes).write(to: URL(fileURLWithPath: f.locationRoot(i) + "/" + name))
        }
        let r = try f.repository(create: false).verify(repair: true)
        #expect(r.problems.contains { $0.kind == .missingCopy && $0.location == "primary/loc0" && $0.repaired })
        #expect(FileManager.default.contents(atPath: f.locationRoot(0) + "/" + name) == original)
    }
}
