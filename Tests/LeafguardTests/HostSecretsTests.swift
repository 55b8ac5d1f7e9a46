import Foundation
import LeafAudit
import LeafKeys
import LeafRepository
import LeafTestSupport
import Testing

@testable import LeafDeployment

/// An attacker with a shell as another user on the host, and the hooks leafguard runs:
/// nothing secret reaches them.
@Suite struct HostSecretsTests {
    /// A hook sees the run's variables and those it names, not the master key, not cloud
    /// credentials; it inherits no descriptor but its standard three; a timeout stops its
    /// whole process group.
    @Test func hooksGetNoSecretsNoDescriptorsAndTheirOwnGroup() throws {
        let d = try DeploymentFixture()
        let yml = try String(contentsOfFile: d.config, encoding: .utf8).replacingOccurrences(
            of: "master: file:keys/master.key", with: "master: env:LG_TEST_KEY")
        try d.dir.write("leafguard.yml", yml)
        let raw = try Data(contentsOf: URL(fileURLWithPath: d.dir.file("keys/master.key")))
        let keyText = raw.count == 32 ? raw.base64EncodedString() : String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let out = d.dir.file("hook-env")
        let fds = d.dir.file("hook-fds")
        let child = d.dir.file("hook-child")
        try d.dir.write(
            "jobs/hooked.yml",
            """
            name: hooked
            steps: [backup]
            on_success:
              - {command: "env > \(out); ls -l /proc/$$/fd > \(fds)", env: [LG_ALLOWED]}
              - {command: "sleep 300 & echo $! > \(child); wait", timeout: 1s}
            """)
        var env = ProcessInfo.processInfo.environment
        env["LG_TEST_KEY"] = keyText
        env["AWS_SECRET_ACCESS_KEY"] = "aws-secret-for-the-test"
        env["LG_ALLOWED"] = "named-by-the-hook"
        let r = try leafguard(["run", "hooked", "--config", d.config], environment: env)
        #expect(r.status == 0, "\(r.all)")
        let seen = try String(contentsOfFile: out, encoding: .utf8)
        #expect(!seen.contains(keyText) && !seen.contains("LG_TEST_KEY"), "the hook saw the master key")
        #expect(!seen.contains("aws-secret-for-the-test"), "the hook saw the AWS secret")
        #expect(seen.contains("LG_ALLOWED=named-by-the-hook") && seen.contains("LEAFGUARD_JOB=hooked"), "\(seen)")
        let descriptors = try String(contentsOfFile: fds, encoding: .utf8)
        #expect(!descriptors.contains("socket:") && !descriptors.contains(d.dir.path + "/state"), "\(descriptors)")
        let numbers = descriptors.split(separator: "\n").compactMap { line in line.split(separator: " ").dropLast(2).last.flatMap { Int($0) } }
        #expect(numbers.allSatisfy { $0 <= 2 || $0 >= 10 }, "only standard input, output and error (and the shell's own): \(descriptors) \(numbers)")
        // The timed-out hook's background child went with its group.
        let pid = try #require(Int32(try String(contentsOfFile: child, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Killed: gone, or a zombie waiting for init to reap it.
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
        #expect(state == nil || state == "Z", "the hook's child \(pid) outlived its timeout (state \(state.map(String.init) ?? "gone"))")
    }

    /// Nothing leafguard writes is readable by other users, after a backup, a scan, a
    /// report and a killed backup; the state folder is 0700.
    @Test func nothingIsReadableByOthers() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try leafguard(["scan", "--out", d.dir.file("scan"), "--config", d.config]).status == 0)
        #expect(try leafguard(["report", "--out", d.dir.file("report"), "--config", d.config]).status <= 1)
        try addDocument(to: d, megabytes: 1)
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_CRASH_AFTER_SHARDS"] = "2"
        #expect(try leafguard(["run", "backup-only", "--config", d.config], environment: env).status == 137)
        let stateMode = try FileManager.default.attributesOfItem(atPath: d.dir.file("state"))[.posixPermissions] as? Int
        #expect(stateMode == 0o700)
        for root in ["state", "regions", "scan", "report"] {
            let found = try runCommand("/usr/bin/find", [d.dir.file(root), "-perm", "/o+r,o+w,g+w", "!", "-name", "*.prom", "!", "-type", "l"])
            #expect(found.stdout.isEmpty, "readable by others under \(root): \(found.stdout)")
        }
        // The killed run's plaintext database copy is gone once the next run starts.
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        #expect(filesBelow(d.dir.file("state/tmp")).filter { $0.hasPrefix("planner-") }.isEmpty, "\(filesBelow(d.dir.file("state/tmp")))")
    }

    /// No core dump, not dumpable, a private umask and no backtracer, even when started
    /// with core dumps allowed.
    @Test func noCoreDumpsEvenWhenAllowed() throws {
        let r = try runCommand("/bin/sh", ["-c", "ulimit -c unlimited; exec \"$0\" self-check", leafguardExecutable])
        #expect(r.status == 0, "\(r.all)")
        #expect(
            r.stdout.contains("core: 0 0") && r.stdout.contains("dumpable: 0") && r.stdout.contains("umask: 77")
                && r.stdout.contains("backtrace: enable=no"), "\(r.all)")
    }

    /// The keyring is authenticated as a whole: a changed state file is refused (and
    /// outvoted by the regions' copies, loudly); with every copy changed nothing opens.
    @Test func anAlteredKeyringIsRefused() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        let path = d.dir.file("state/keys/keyring.json")
        let original = try String(contentsOfFile: path, encoding: .utf8)
        let tampered = original.replacingOccurrences(of: "\"decrypt-only\"", with: "\"active\"")
        #expect(tampered != original)
        try tampered.write(toFile: path, atomically: true, encoding: .utf8)
        let status = try leafguard(["keys", "status", "--config", d.config])
        #expect(status.status == 0 && status.stderr.contains("keyring.json") && status.stderr.contains("does not authenticate"), "\(status.all)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == original, "the state file is rewritten from the regions")
        // Every copy altered: a clear error naming them, no crash.
        for region in ["primary", "backup"] {
            for i in 0..<6 where FileManager.default.fileExists(atPath: d.dir.file("regions/\(region)/loc\(i)/keyring")) {
                try tampered.write(toFile: d.dir.file("regions/\(region)/loc\(i)/keyring"), atomically: true, encoding: .utf8)
            }
        }
        try tampered.write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(
            refused.status == 1 && refused.stderr.contains("none of its") && refused.stderr.contains("authenticates with it")
                && refused.stderr.contains("keyring.json"), "\(refused.all)")
    }

    /// Never unaudited: a junk last line stops runs and restores before their work; a torn
    /// last line (a crash mid-write) is repaired and the repair recorded.
    @Test func aDamagedAuditLogStopsWorkAndATornLineIsRepaired() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let log = d.dir.file("state/audit/audit.log")
        let good = try Data(contentsOf: URL(fileURLWithPath: log))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd(); try handle.write(contentsOf: Data("junk\n".utf8)); try handle.close()
        let snapshots = filesBelow(d.dir.file("regions/primary/loc0/snapshots")).count
        let run = try leafguard(["run", "backup-only", "--config", d.config])
        #expect(run.status == 1 && run.stderr.contains(log) && run.stderr.contains("audit verify"), "\(run.all)")
        #expect(filesBelow(d.dir.file("regions/primary/loc0/snapshots")).count == snapshots, "the backup ran unaudited")
        let restore = try leafguard(["restore", "latest", "--to", d.dir.file("r"), "--config", d.config])
        #expect(restore.status == 1 && !FileManager.default.fileExists(atPath: d.dir.file("r/planner.db")), "\(restore.all)")
        // A torn line instead: repaired, recorded, and the run goes ahead.
        try (good + Data("{\"action\":\"job.st".utf8)).write(to: URL(fileURLWithPath: log))
        let after = try leafguard(["run", "backup-only", "--config", d.config])
        #expect(after.status == 0, "\(after.all)")
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("\"audit.repair\""))
        #expect(try leafguard(["audit", "verify", "--config", d.config]).status == 0)
    }
}

/// Region locks know their holder: a pid now another process's is taken over at once; a
/// live holder is named.
@Suite struct LockHolderTests {
    @Test func aLockWhosePidWasReusedIsTakenOver() throws {
        let f = try BackupFixture()
        try f.backup()
        let repo = try f.repository(create: false)
        // pid 1 is alive, but it is not the process that took this lock (another start time).
        let real = try #require(ProcessIdentity.startTime(of: 1))
        try RegionLock.plant(.exclusive, pid: 1, start: real + 12345, in: repo)
        let lock = try RegionLock.acquire(.shared, in: repo)
        lock.release()
        #expect(repo.listReplicated(prefix: "locks/").isEmpty, "the reused pid's lock was removed")
        // The real pid 1, alive: the lock holds, and the error names it.
        try RegionLock.plant(.exclusive, pid: 1, start: real, in: repo)
        #expect { _ = try RegionLock.acquire(.shared, in: repo) } throws: { "\($0)".contains("pid 1") }
    }
}

/// A leak contained: an attacker copied the key file, the keyring and a region; the
/// operator runs the documented playbook (change-key, rotate, retire, re-encrypt).
@Suite struct LeakPlaybookTests {
    func keyIDs(_ d: DeploymentFixture) throws -> Set<String> {
        let r = try leafguard(["keys", "list", "--json", "--config", d.config])
        #expect(r.status == 0, "\(r.all)")
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        return Set(rows.compactMap { $0["id"] as? String })
    }

    @Test func afterThePlaybookTheLeakedMaterialOpensNothing() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        try d.dir.write("jobs/rekey.yml", "name: rekey\nsteps: [{reencrypt: {older_than: 0s}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        // The attacker's copies.
        let loot = d.dir.file("loot")
        try FileManager.default.createDirectory(atPath: loot, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: d.dir.file("keys/master.key"), toPath: loot + "/master.key")
        try FileManager.default.copyItem(atPath: d.dir.file("state/keys/keyring.json"), toPath: loot + "/keyring.json")
        try FileManager.default.copyItem(atPath: d.dir.file("regions/primary"), toPath: loot + "/primary")
        let leaked = try keyIDs(d)

        // The playbook, as docs/operations.md's key-leaked runbook gives it, command by command.
        let work = d.dir.file("operator")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_CONFIG"] = d.config
        env["PATH"] = (leafguardExecutable as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        let commands = try RunbookTests.commands("key-leaked")
        #expect(commands.contains { $0.contains("keys change-key") } && commands.contains { $0.contains("reencrypt") })
        for command in commands {
            let r = try runCommand("/bin/sh", ["-c", command], environment: env, currentDirectory: work)
            #expect(r.status == 0, "`\(command)` exited \(r.status): \(r.all)")
        }
        #expect(sameTree(d.dir.file("planner-data"), work + "/restored-planner"), "the runbook's restore gave back the data")
        let yml = try String(contentsOfFile: d.config, encoding: .utf8)
        #expect(yml.contains("master: file:new-master.key"), "\(yml)")
        let status = try leafguard(["keys", "status", "--config", d.config])
        #expect(!status.stdout.contains("decrypt-only"), "every old version is retired: \(status.all)")

        // The audit key was handed over too (issue 29, defect 4): one checkpoint signed by the
        // leaked audit key and the new one, and audit verify follows the chain across it.
        let auditVerify = try leafguard(["audit", "verify", "--config", d.config])
        #expect(auditVerify.status == 0 && auditVerify.stdout.contains("key handover at entry"), "\(auditVerify.all)")
        let lootState = loot + "/state"
        try FileManager.default.createDirectory(atPath: lootState + "/keys", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: loot + "/keyring.json", toPath: lootState + "/keys/keyring.json")
        chmod(loot + "/master.key", 0o600)
        let leakedRing = try Keyring.open(stateDirectory: lootState, keyringKey: try MasterKeySource.file(path: loot + "/master.key").load())
        let leakedAudit = try AuditKeyChain(current: leakedRing.auditSeed, previous: leakedRing.previousAuditSeeds)
        let handover = try #require(
            filesBelow(d.dir.file("state/audit")).filter { $0.hasPrefix("checkpoint-") }.compactMap { name -> Checkpoint? in
                let bytes = [UInt8](FileManager.default.contents(atPath: d.dir.file("state/audit/" + name)) ?? Data())
                return (try? Checkpoint.open(bytes, publicKeys: leakedAudit.publicKeys)).flatMap { $0.nextPublicKey == nil ? nil : $0 }
            }.first, "a handover checkpoint signed by the leaked audit key")
        let published = try String(contentsOfFile: d.dir.file("regions/primary/loc0/audit/audit-signing.pub"), encoding: .utf8)
        #expect(published.contains(try #require(handover.nextPublicKey)) && !published.contains(leakedAudit.signer.publicKeyHex))
        var after = 0
        for name in filesBelow(d.dir.file("regions/primary/loc0/audit")) {
            let bytes = [UInt8](FileManager.default.contents(atPath: d.dir.file("regions/primary/loc0/audit/" + name)) ?? Data())
            if name.hasPrefix("log-"), let last = Int(name.split(separator: "-")[2]), last >= handover.length {
                after += 1
                #expect(throws: (any Error).self, "\(name) opens with the leaked audit key") {
                    try AuditTrail.openSegment(bytes, name: "audit/" + name, keys: leakedAudit.segmentKeys)
                }
            }
            if name.hasPrefix("checkpoint-"), let length = Int(name.dropFirst(11)), length > handover.length {
                after += 1
                #expect(throws: (any Error).self, "\(name) verifies with the leaked audit key") {
                    try Checkpoint.open(bytes, publicKeys: leakedAudit.publicKeys)
                }
            }
        }
        #expect(after >= 2, "segments and checkpoints were written after the playbook")

        // The leaked key opens no keyring copy anywhere, nor leafguard with it.
        let oldConfig = yml.replacingOccurrences(of: "file:new-master.key", with: "file:loot/master.key")
        try d.dir.write("old.yml", oldConfig)
        chmod(loot + "/master.key", 0o600)
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        let withOld = try leafguard(["snapshots", "list", "--config", d.dir.file("old.yml")])
        #expect(withOld.status != 0, "the leaked key still opens the deployment: \(withOld.all)")
        let byHand = try runCommand(
            "/usr/bin/python3",
            [
                packageRoot + "/docs/recover.py", d.dir.file("regions/primary"), loot + "/master.key", d.dir.file("by-hand"),
                "--keyring", loot + "/keyring.json",
            ])
        #expect(byHand.status != 0, "the leaked key and keyring still open the current region: \(byHand.all)")
        // No data key the attacker copied is still in use (the identity key, which seals only
        // the config and names blobs, stays: it cannot be replaced without storing everything anew).
        let current = try keyIDs(d)
        let stillUsed = leaked.intersection(current)
        #expect(stillUsed.count <= 1, "copied data keys still in use: \(stillUsed)")
        // And everything restores with the new key, from both regions.
        for region in ["primary", "backup"] {
            let r = try leafguard(["restore", "latest", "--region", region, "--to", d.dir.file("after-\(region)"), "--config", d.config])
            #expect(r.status == 0, "\(region): \(r.all)")
            #expect(sameTree(d.dir.file("planner-data"), d.dir.file("after-\(region)")))
        }
    }
}

/// A legacy keyring (format v1: no MAC, no generation) in the state folder, with an old
/// version active (issue 29, defect 11): it was accepted and re-signed although the regions
/// hold authenticated keyrings of a newer generation, and the next backup wrapped its data
/// key under the version rotated away. Now it is refused, naming the file.
@Suite struct LegacyKeyringTests {
    @Test func aLegacyKeyringIsRefusedOnceTheRegionsHoldAnAuthenticatedOne() throws {
        let f = try DisasterFixture()
        let path = f.file("state/keys/keyring.json")
        var file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let versions = try #require(file["versions"] as? [[String: Any]])
        #expect(versions.count == 3, "two rotations: \(versions.count)")
        var first = try #require(versions.first { ($0["version"] as? Int) == 1 })
        first["state"] = "active"
        file["versions"] = [first]
        file["format"] = "leafguard-keyring-v1"
        file["generation"] = nil
        file["mac"] = nil
        try JSONSerialization.data(withJSONObject: file, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
        let keysBefore = filesBelow(f.file("regions/primary/loc0/keys"))

        try addDocument(to: f.d, megabytes: 1)
        for command in [["run", "nightly"], ["snapshots", "list"]] {
            let r = try f.run(command)
            #expect(r.status == 1, "\(command): \(r.all)")
            #expect(r.stderr.contains("keyring \(path) is in the legacy format") && r.stderr.contains("refused as a downgrade"), "\(command): \(r.all)")
        }
        #expect(filesBelow(f.file("regions/primary/loc0/keys")) == keysBefore, "no data key was written under the old version")
        #expect(filesBelow(f.file("regions/backup/loc0/snapshots")).count == 3, "no snapshot was added")
        // Moved away, the regions' newest keyring is read and work goes on under version 3.
        try FileManager.default.moveItem(atPath: path, toPath: f.file("old-keyring.json"))
        try f.expectSuccess(["run", "nightly"])
        let status = try f.run(["keys", "status"])
        #expect(status.status == 0 && status.stdout.contains("3"), "\(status.all)")
    }
}
