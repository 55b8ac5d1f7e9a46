import Foundation
import LeafAudit
import LeafDeployment
import LeafKeys
import LeafSodium
import LeafTestSupport
import Testing

/// The audit commands against a real deployment: runs are recorded, checkpoints land in
/// both regions, and tampering makes the commands exit 1 with the reason.
@Suite struct AuditCLITests {
    @Test func runsAreAuditedAndTamperingIsCaught() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        try d.dir.write("jobs/seal.yml", "name: seal\nsteps: [seal-activity]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let sealRun = try leafguard(["run", "seal", "--config", d.config])
        #expect(sealRun.status == 0 && sealRun.stdout.contains("seal 1:") && sealRun.stdout.contains("stored in state and primary, backup"), "\(sealRun.all)")
        let restore = try leafguard(["restore", "latest", "--to", d.dir.file("r"), "--config", d.config])
        #expect(restore.status == 0)

        let show = try leafguard(["audit", "show", "--json", "--config", d.config])
        let entries = try JSONDecoder().decode([AuditEntry].self, from: Data(show.stdout.utf8))
        #expect(
            entries.map(\.action).starts(with: ["job.start", "snapshot.write", "step", "step", "job.end", "job.start", "step", "job.end", "restore"]),
            "\(entries.map(\.action))")
        // The backup recorded its snapshot before storing it (what lets the region heads take it in).
        #expect(entries.first { $0.action == "snapshot.write" }?.objects.contains { $0.hasPrefix("snapshot ") && $0.count == 9 + 32 } == true)
        #expect(entries.first { $0.action == "restore" }?.objects.contains { $0.hasPrefix("to ") } == true)
        #expect(entries.allSatisfy { $0.user == ProcessInfo.processInfo.userName && !$0.host.isEmpty })
        let onlySeal = try leafguard(["audit", "show", "--job", "seal", "--config", d.config])
        #expect(onlySeal.stdout.split(separator: "\n").count == 3)

        var ok = try leafguard(["audit", "verify", "--config", d.config])
        #expect(ok.status == 0 && ok.stdout.contains("intact"), "\(ok.all)")
        // Checkpoints were copied to every location of both regions.
        for region in ["primary", "backup"] {
            #expect(filesBelow(d.dir.file("regions/\(region)/loc3/audit")).contains { $0.hasPrefix("checkpoint-") })
        }
        #expect(try leafguard(["audit", "verify-activity", "--config", d.config]).status == 0)

        // Truncate the log: its chain is still valid, the checkpoints in the regions are not fooled.
        let logPath = d.dir.file("state/audit/audit.log")
        let original = try String(contentsOfFile: logPath, encoding: .utf8)
        let lines = original.split(separator: "\n")
        try (lines.prefix(4).joined(separator: "\n") + "\n").write(toFile: logPath, atomically: true, encoding: .utf8)
        // Even with the state folder's checkpoints gone too.
        for n in try FileManager.default.contentsOfDirectory(atPath: d.dir.file("state/audit")) where n.hasPrefix("checkpoint-") {
            try FileManager.default.removeItem(atPath: d.dir.file("state/audit/" + n))
        }
        var bad = try leafguard(["audit", "verify", "--config", d.config])
        #expect(bad.status == 1 && bad.stdout.contains("BAD: truncated"), "\(bad.all)")
        try original.write(toFile: logPath, atomically: true, encoding: .utf8)

        // A checkpoint replaced by one signed with another key is named.
        let other = try AuditSigner(master: MasterKey(version: 1, secret: try SecureBytes.random(count: 32)))
        let forged = try Checkpoint(length: 2, head: AuditLog.genesis, at: Date(), publicKey: other.publicKeyHex).signed(by: other)
        FileManager.default.createFile(atPath: d.dir.file("state/audit/checkpoint-000000000002"), contents: Data(forged))
        bad = try leafguard(["audit", "verify", "--config", d.config])
        #expect(
            bad.status == 1 && bad.stdout.contains("audit/checkpoint-000000000002 in state: checkpoint 2")
                && bad.stdout.contains("is not signed by this deployment's audit key"), "\(bad.all)")
        try FileManager.default.removeItem(atPath: d.dir.file("state/audit/checkpoint-000000000002"))
        ok = try leafguard(["audit", "verify", "--config", d.config])
        #expect(ok.status == 0, "\(ok.all)")

        // Planner activity edited after sealing: named by id, exit 1.
        let db = d.dir.file("planner-data/planner.db")
        let ids = try runCommand("/usr/bin/sqlite3", [db, "SELECT min(id), max(id) FROM activity_log"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "|")
        let (low, high) = (Int(ids[0])!, Int(ids[1])!)
        #expect(
            try runCommand(
                "/usr/bin/sqlite3", [db, "UPDATE activity_log SET actor_id = 999 WHERE id = \(low + 5); DELETE FROM activity_log WHERE id = \(high);"]
            ).status == 0)
        let act = try leafguard(["audit", "verify-activity", "--json", "--config", d.config])
        #expect(act.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(act.stdout.utf8)) as? [String: Any]
        #expect(report?["changed"] as? [Int] == [low + 5] && report?["deleted"] as? [Int] == [high] && report?["intact"] as? Bool == false, "\(act.all)")
        // Verification itself is in the log.
        let last = try JSONDecoder().decode([AuditEntry].self, from: Data(try leafguard(["audit", "show", "--json", "--config", d.config]).stdout.utf8)).last
        #expect(last?.action == "activity.verify" && last?.outcome == "tampered")
    }
}

/// A junk line in the middle of the audit log (issue 29, defect 13): the next checkpoint
/// counted it as an entry, so `audit verify` then reported a truncation that never happened.
/// Now the junk line is named, the checkpoint records the real entries, and nothing else is
/// reported.
@Suite struct AuditJunkLineTests {
    @Test func aJunkLineIsNamedAndCountsForNoCheckpoint() throws {
        let f = try DisasterFixture()
        let path = f.file("state/audit/audit.log")
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count > 6)
        let middle = lines.count / 2
        lines.insert("{\"junk\": \"inserted by someone\"}", at: middle)
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try f.expectSuccess(["audit", "checkpoint"])
        let verify = try f.run(["audit", "verify"])
        #expect(verify.status == 1, "\(verify.all)")
        #expect(verify.all.contains("not an audit entry"), "the junk line is named: \(verify.all)")
        #expect(!verify.all.contains("truncated"), "no truncation is invented: \(verify.all)")
        // Once the line is gone, the log and every checkpoint agree again.
        lines.remove(at: middle)
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let clean = try f.run(["audit", "verify"])
        #expect(clean.status == 0, "\(clean.all)")
    }
}
