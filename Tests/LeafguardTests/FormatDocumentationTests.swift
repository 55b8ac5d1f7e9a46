import Foundation
import LeafTestSupport
import Testing

/// docs/recover.py implements docs/format.md independently; if it restores what leafguard
/// wrote, the documented format is the real one.
@Suite struct FormatDocumentationTests {
    @Test func theDocumentedFormatRestoresWithoutLeafguardEvenWithParityLocationsLost() throws {
        let f = try BackupFixture()
        try f.backup()
        let keyFile = f.dir.file("master.key")
        let raw = f.master.secret.withUnsafeBytes { Data($0) }
        FileManager.default.createFile(atPath: keyFile, contents: raw, attributes: [.posixPermissions: 0o600])
        // Lose two locations: the script must rebuild data shards from parity.
        try FileManager.default.removeItem(atPath: f.locationRoot(0))
        try FileManager.default.removeItem(atPath: f.locationRoot(3))
        let r = try runCommand("/usr/bin/python3", [packageRoot + "/docs/recover.py", f.dir.file("regions/primary"), keyFile, f.dir.file("by-hand")])
        #expect(r.status == 0, "\(r.all)")
        #expect(sameTree(f.dataDirectory, f.dir.file("by-hand")))
        let check = try runCommand("/usr/bin/sqlite3", [f.dir.file("by-hand/planner.db"), "PRAGMA integrity_check"])
        #expect(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }
}
