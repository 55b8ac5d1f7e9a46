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
        let sqlite = try runCommand("/usr/bin/sqlite3", [f.dataDirectory + "/planner.db",
            "INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_at) VALUES (1,'legal','huge.pdf','1/huge-scan.pdf',\(big.count),'\(SHA256.hash(big).hexString)','2026-11-29T00:00:00Z')"])
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
