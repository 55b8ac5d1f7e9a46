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

    /// After rotations (data keys in a key set, wrapped by version 3 of the keyring) and a
    /// passphrase-free keyring file, the script still restores, given the keyring file.
    @Test func theDocumentedKeyringAndKeySetsRestoreWithoutLeafguard() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        #expect(filesBelow(d.dir.file("regions/primary/loc1/keys")).allSatisfy { $0.hasPrefix("set-") })
        #expect(try leafguard(["restore", "latest", "--to", d.dir.file("by-leafguard"), "--config", d.config]).status == 0)

        let script = packageRoot + "/docs/recover.py"
        try FileManager.default.copyItem(atPath: d.dir.file("state/keys/keyring.json"), toPath: d.dir.file("keyring-copy.json"))
        // The region carries its keyring: the key alone is enough, with the state folder gone.
        try FileManager.default.removeItem(atPath: d.dir.file("state/keys"))
        let alone = try runCommand("/usr/bin/python3", [script, d.dir.file("regions/primary"), d.dir.file("keys/master.key"), d.dir.file("key-alone")])
        #expect(alone.status == 0, "\(alone.all)")
        #expect(sameTree(d.dir.file("by-leafguard"), d.dir.file("key-alone")))
        // Without any keyring copy the versions it wraps under are named.
        for i in 0..<6 { try FileManager.default.removeItem(atPath: d.dir.file("regions/primary/loc\(i)/keyring")) }
        let without = try runCommand("/usr/bin/python3", [script, d.dir.file("regions/primary"), d.dir.file("keys/master.key"), d.dir.file("no-ring")])
        #expect(without.status != 0 && without.all.contains("give the keyring file"), "\(without.all)")
        let r = try runCommand(
            "/usr/bin/python3",
            [
                script, d.dir.file("regions/primary"), d.dir.file("keys/master.key"), d.dir.file("by-hand"),
                "--keyring", d.dir.file("keyring-copy.json"),
            ])
        #expect(r.status == 0, "\(r.all)")
        #expect(sameTree(d.dir.file("by-leafguard"), d.dir.file("by-hand")))
    }
}
