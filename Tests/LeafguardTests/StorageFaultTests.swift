import Foundation
import LeafBackup
import LeafDigest
import LeafRepository
import LeafSodium
import LeafStorage
import LeafTestSupport
import Testing

@Suite struct StorageFaultTests {
    /// A region on a small tmpfs: the second backup runs out of space. It fails with the
    /// system's own words, lists no snapshot, and the first snapshot still restores.
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root (CI runs as root)"))
    func aFullDiskFailsClearlyAndLosesNothing() throws {
        let f = try BackupFixture()
        let region = f.dir.file("regions/primary")
        try FileManager.default.createDirectory(atPath: region, withIntermediateDirectories: true)
        let mount = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", region])
        try #require(mount.status == 0, "cannot mount tmpfs: \(mount.all)")
        defer { _ = try? runCommand("/bin/umount", ["-l", region]) }
        let first = try f.backup()
        let big = Sodium.randomBytes(5 << 20)
        FileManager.default.createFile(atPath: f.dataDirectory + "/documents/1/huge-scan.pdf", contents: Data(big))
        let sqlite = try runCommand(
            "/usr/bin/sqlite3",
            [
                f.dataDirectory + "/planner.db",
                "INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_at) VALUES (1,'legal','huge.pdf','1/huge-scan.pdf',\(big.count),'\(SHA256.hash(big).hexString)','2026-11-29T00:00:00Z')",
            ])
        #expect(sqlite.status == 0)
        #expect { try f.backup() } throws: { "\($0)".contains("No space left on device") }
        let snapshots = try f.repository(create: false).snapshots()
        #expect(snapshots.map(\.id) == [first.snapshot.id])
        let r = try f.restore()
        #expect(r.files == first.snapshot.documents.count + 1)
        #expect(!f.storedFiles().contains { $0.contains(".tmp-") }, "no temporary file is left behind")
    }

    @Test func aRegionPathThatIsAFileIsAClearError() throws {
        let f = try BackupFixture()
        try f.dir.write("regions/primary", "not a folder")
        #expect { try f.backup() } throws: { error in
            "\(error)".contains("primary/loc0") && ("\(error)".contains("cannot create") || "\(error)".contains("unavailable"))
        }
        #expect { _ = try f.repository(create: false) } throws: { "\($0)".contains("primary/loc0: config: open: Not a directory") }
    }
}

/// The same faults without root: locations are in-memory stores behind the fault-injecting
/// store (LeafTestSupport), so every fault is exact and every run the same.
@Suite struct InjectedFaultTests {
    struct Region {
        let stores: [FaultyStore]
        init() { stores = (0..<6).map { FaultyStore(MemoryStore(name: "primary/loc\($0)")) } }
        func repository(_ f: BackupFixture, create: Bool = false) throws -> Repository {
            try Repository.open(region: "primary", locations: stores, master: f.master, create: create)
        }
    }

    func addDocument(_ f: BackupFixture) throws {
        FileManager.default.createFile(atPath: f.dataDirectory + "/documents/1/late.txt", contents: Data("new".utf8))
        let r = try runCommand(
            "/usr/bin/sqlite3",
            [
                f.dataDirectory + "/planner.db",
                "INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_at) VALUES (1,'legal','late.txt','1/late.txt',3,'\(SHA256.hash(Array("new".utf8)).hexString)','2026-01-01T00:00:00Z')",
            ])
        #expect(r.status == 0, "\(r.all)")
    }

    /// A location that refuses every write (read-only, out of space): the backup fails
    /// naming it, lists no new snapshot, and the first one still restores.
    @Test func aLocationRefusingWritesFailsTheBackupAndLosesNothing() throws {
        let f = try BackupFixture()
        let region = Region()
        let first = try Backup(repository: try region.repository(f, create: true), dataDirectory: f.dataDirectory, options: f.options()).run()
        try addDocument(f)
        region.stores[2].faults = [.fail(.put, nth: 1, every: 1), .fail(.replace, nth: 1, every: 1)]
        #expect { try Backup(repository: try region.repository(f), dataDirectory: f.dataDirectory, options: f.options()).run() } throws: {
            "\($0)".contains("primary/loc2")
        }
        let repo = try region.repository(f)
        #expect(try repo.snapshots().map(\.id) == [first.snapshot.id])
        let r = try Restore(repository: repo).run(try repo.resolveSnapshot("latest"), to: f.dir.file("restored"), force: false)
        #expect(r.files == first.snapshot.documents.count + 1)
        // With that location still refusing writes, verify and repair work on the others: a
        // shard lost from loc3 is rebuilt there.
        let inner = try #require(region.stores[3].inner as? MemoryStore)
        let shard = try #require(inner.contents.keys.filter { $0.hasPrefix("data/") }.sorted().first)
        inner.contents[shard] = nil
        let v = try repo.verify(readPacks: { $0 }, repair: true)
        #expect(v.problems.contains { $0.repaired && $0.location == "primary/loc3" && $0.object == shard }, "\(v.problems)")
        #expect(v.unrepaired.isEmpty, "\(v.unrepaired)")
        #expect(inner.contents[shard] != nil)
    }

    /// One location returns corrupt shards and another is gone: restore takes the four good
    /// ones, says what it worked around, and a repair heals the corrupt copies.
    @Test func corruptAndVanishedLocationsWithinParityStillRestore() throws {
        let f = try BackupFixture()
        let region = Region()
        let first = try Backup(repository: try region.repository(f, create: true), dataDirectory: f.dataDirectory, options: f.options()).run()
        region.stores[0].faults = [.corruptReads(prefix: "data/")]
        region.stores[5].faults = [.disappeared]
        let repo = try region.repository(f)
        let r = try Restore(repository: repo).run(try repo.resolveSnapshot("latest"), to: f.dir.file("restored"), force: false)
        #expect(r.files == first.snapshot.documents.count + 1 && !r.repairedAround.isEmpty)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
        // Past parity (a third location gone): a clear error, nothing written to the target.
        region.stores[1].faults = [.disappeared]
        #expect {
            _ = try Restore(repository: try region.repository(f)).run(try repo.resolveSnapshot("latest"), to: f.dir.file("restored-2"), force: false)
        } throws: { "\($0)".contains("shard") || "\($0)".contains("loc") }
        #expect(!FileManager.default.fileExists(atPath: f.dir.file("restored-2/documents")))
    }

    /// A write that fails once (a transient error, here the second write to loc3: the
    /// repository's config as it is created): whatever the backup did, nothing is lost
    /// silently — verify names the missing copy, a repair restores it, and the data restores.
    @Test func aTransientWriteFailureIsReportedAndRepaired() throws {
        let f = try BackupFixture()
        let region = Region()
        region.stores[3].faults = [.fail(.put, nth: 2)]
        do {
            _ = try Backup(repository: try region.repository(f, create: true), dataDirectory: f.dataDirectory, options: f.options()).run()
        } catch {
            #expect("\(error)".contains("primary/loc3"), "\(error)")
        }
        region.stores[3].faults = []
        let second = try Backup(repository: try region.repository(f, create: true), dataDirectory: f.dataDirectory, options: f.options()).run()
        let repo = try region.repository(f)
        let before = try repo.verify(readPacks: { $0 }, repair: false).unrepaired
        #expect(!before.isEmpty && before.allSatisfy { $0.location == "primary/loc3" }, "the lost write is named: \(before)")
        let repaired = try repo.verify(readPacks: { $0 }, repair: true)
        #expect(repaired.unrepaired.isEmpty, "\(repaired.problems)")
        #expect(try repo.verify(readPacks: { $0 }, repair: false).problems.filter { $0.kind != .stray }.isEmpty)
        _ = try Restore(repository: repo).run(try repo.resolveSnapshot(second.snapshot.id.hex), to: f.dir.file("restored"), force: false)
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
    }
}
