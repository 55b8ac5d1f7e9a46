import Foundation
import LeafTestSupport
import Testing

/// A backup killed right after its snapshot was stored, then the host lost with its state
/// folder: the snapshot is leafguard's own, and the new host must know it. The intent to
/// write it reaches the region's audit log before the snapshot does, so the region alone
/// accounts for it: it is not reported as unrecorded, and `restore latest` brings it back.
@Suite struct KilledBackupHostLostTests {
    @Test func aSnapshotStoredBeforeAKillIsStillLeafguardsOnANewHost() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)

        try addDocument(to: d, megabytes: 1)
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_CRASH_AFTER_SNAPSHOT"] = "1"
        let killed = try leafguard(["run", "backup-only", "--config", d.config], environment: env)
        #expect(killed.status == 137, "killed right after the snapshot was stored: \(killed.all)")

        // The host is lost: a new one has leafguard.yml and the key alone.
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        let list = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(list.status == 0 && !list.all.contains("no signed record accounts for"), "\(list.all)")
        let verify = try leafguard(["verify", "--region", "primary", "--config", d.config])
        #expect(!verify.stdout.contains("unrecorded-snapshot"), "\(verify.all)")
        let restored = try leafguard(["restore", "latest", "--to", d.dir.file("restored"), "--config", d.config])
        #expect(restored.status == 0, "\(restored.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("restored")), "latest is the snapshot the killed backup stored")
        // And the next run takes it into the region's head and goes on.
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let after = try leafguard(["verify", "--config", d.config])
        #expect(after.status == 0 && !after.stdout.contains("PROBLEM"), "\(after.all)")
    }
}
