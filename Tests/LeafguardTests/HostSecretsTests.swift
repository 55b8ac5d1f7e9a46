import Foundation
import LeafTestSupport
import Testing

/// An attacker with a shell as another user on the host, and the hooks leafguard runs:
/// nothing secret reaches them.
@Suite struct HostSecretsTests {
    /// A hook sees the run's variables and those it names, not the master key, not cloud
    /// credentials; it inherits no descriptor but its standard three; a timeout stops its
    /// whole process group.
    @Test func hooksGetNoSecretsNoDescriptorsAndTheirOwnGroup() throws {
        let d = try DeploymentFixture()
        let yml = try String(contentsOfFile: d.config, encoding: .utf8).replacingOccurrences(of: "master: file:keys/master.key", with: "master: env:LG_TEST_KEY")
        try d.dir.write("leafguard.yml", yml)
        let raw = try Data(contentsOf: URL(fileURLWithPath: d.dir.file("keys/master.key")))
        let keyText = raw.count == 32 ? raw.base64EncodedString() : String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let out = d.dir.file("hook-env"), fds = d.dir.file("hook-fds"), child = d.dir.file("hook-child")
        try d.dir.write("jobs/hooked.yml", """
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
        #expect(r.stdout.contains("core: 0 0") && r.stdout.contains("dumpable: 0") && r.stdout.contains("umask: 77")
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
        #expect(refused.status == 1 && refused.stderr.contains("does not authenticate") && refused.stderr.contains("keyring.json"), "\(refused.all)")
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
