import Foundation
import LeafTestSupport
import Testing

/// An operator presses Ctrl-C (or systemd sends SIGTERM) during a restore: the command
/// stops at its next pack, removes its scratch folder (planner data) and leaves the target
/// as it was; a second restore then works. Debug builds hold the restore after its first
/// pack (LEAFGUARD_STALL_RESTORE) so that the signal certainly comes midway.
@Suite struct InterruptedRestoreTests {
    func interrupt(_ d: DeploymentFixture, into target: String, with sig: Int32, force: Bool) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: leafguardExecutable)
        p.arguments = ["restore", "latest", "--to", target, "--config", d.config] + (force ? ["--force"] : [])
        p.environment = ProcessInfo.processInfo.environment.merging(["LEAFGUARD_STALL_RESTORE": "1"]) { _, b in b }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // The scratch folder beside the target holds restored data once the first pack is in.
        let parent = (target as NSString).deletingLastPathComponent
        let scratch = parent + "/." + (target as NSString).lastPathComponent + ".leafguard-restore-\(p.processIdentifier)"
        waitUntil(timeout: 30, every: 0.05) { !filesBelow(scratch).isEmpty }
        #expect(!filesBelow(scratch).isEmpty, "the restore got midway")
        kill(p.processIdentifier, sig)
        p.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: scratch), "the scratch folder is removed")
        return p.terminationStatus
    }

    @Test func aStoppedRestoreLeavesNothingAndTheTargetAsItWas() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        // Into a new folder: SIGINT, exit 130, no folder.
        let fresh = d.dir.file("restored")
        #expect(try interrupt(d, into: fresh, with: SIGINT, force: false) == 130)
        #expect(!FileManager.default.fileExists(atPath: fresh))
        // Over an old planner data folder with --force: SIGTERM, exit 143, the old folder untouched.
        let old = d.dir.file("old-copy")
        try d.dir.write("old-copy/planner.db", "an old database")
        try d.dir.write("old-copy/documents/1/old.pdf", "an old document")
        #expect(try interrupt(d, into: old, with: SIGTERM, force: true) == 143)
        #expect(filesBelow(old) == ["documents/1/old.pdf", "planner.db"])
        #expect(try String(contentsOfFile: old + "/planner.db", encoding: .utf8) == "an old database")
        // The stop is in the audit log, and the next restore works.
        let log = try String(contentsOfFile: d.dir.file("state/audit/audit.log"), encoding: .utf8)
        #expect(log.contains("interrupted: the restore was stopped"))
        let r = try leafguard(["restore", "latest", "--to", fresh, "--config", d.config])
        #expect(r.status == 0, "\(r.all)")
        #expect(sameTree(d.dir.file("planner-data"), fresh))
    }
}
