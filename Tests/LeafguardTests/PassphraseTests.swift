import Foundation
import LeafSodium
import LeafTestSupport
import Testing

@testable import LeafKeys

/// A passphrase as the master-key source: a wrong one opens nothing, and changing it
/// re-seals the keyring file alone.
@Suite struct PassphraseTests {
    /// One Argon2id run per passphrase and parameters per process (a command opens the
    /// keyring from several places; it was 8 runs, 7.7 s, for a restore): the same inputs
    /// give the very same derived key object; another passphrase or salt derives anew.
    @Test func aPassphraseIsStretchedOncePerProcess() throws {
        let p = PassphraseParameters(salt: [UInt8](repeating: 9, count: 16), opsLimit: 1, memLimitKiB: 8 * 1024)
        let env = ["A": "correct horse battery staple 1", "B": "correct horse battery staple 2"]
        let first = try MasterKeySource.derive(passphraseIn: "A", parameters: p, environment: env)
        let again = try MasterKeySource.derive(passphraseIn: "A", parameters: p, environment: env)
        #expect(first === again, "derived once, then taken from the cache")
        let other = try MasterKeySource.derive(passphraseIn: "B", parameters: p, environment: env)
        #expect(!other.isEqual(to: first))
        let salted = PassphraseParameters(salt: [UInt8](repeating: 8, count: 16), opsLimit: 1, memLimitKiB: 8 * 1024)
        #expect(!(try MasterKeySource.derive(passphraseIn: "A", parameters: salted, environment: env)).isEqual(to: first))
    }

    @Test func aWrongPassphraseOpensNothingAndAChangeRewritesOnlyTheKeyring() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        try d.usePassphrase(from: "LG_PASSPHRASE")
        let base = ProcessInfo.processInfo.environment
        func env(_ passphrase: String, new: String? = nil) -> [String: String] {
            var e = base; e["LG_PASSPHRASE"] = passphrase; e["LG_NEW_PASSPHRASE"] = new; return e
        }
        let first = "correct horse battery staple"
        let second = "Tr0ub4dor&3 but longer"

        #expect(try leafguard(["run", "nightly", "--config", d.config], environment: env(first)).status == 0)
        let wrong = try leafguard(["restore", "latest", "--to", d.dir.file("wrong"), "--config", d.config], environment: env("not the passphrase"))
        // The keyring, kept from the first backup on in the state folder and every region, is what fails to open.
        #expect(wrong.status == 1 && wrong.stderr.contains("does not open with the configured key"), "\(wrong.all)")
        #expect(!FileManager.default.fileExists(atPath: d.dir.file("wrong/planner.db")))

        // Everything stored in the regions, byte for byte, before the change.
        func storedObjects() throws -> [String: Data] {
            var out: [String: Data] = [:]
            for f in filesBelow(d.dir.file("regions")) { out[f] = try Data(contentsOf: URL(fileURLWithPath: d.dir.file("regions/" + f))) }
            return out
        }
        let before = try storedObjects()
        let audit = try leafguard(["audit", "checkpoint", "--config", d.config], environment: env(first))
        #expect(audit.status == 0, "\(audit.all)")
        let publicKey = try String(contentsOfFile: d.dir.file("state/keys/audit-signing.pub"), encoding: .utf8)
        let afterCheckpoint = try storedObjects()

        // Refused: a short new passphrase, an unset variable.
        let short = try leafguard(
            ["keys", "change-passphrase", "--new-passphrase-env", "LG_NEW_PASSPHRASE", "--config", d.config], environment: env(first, new: "short"))
        #expect(short.status == 1 && short.stderr.contains("shorter than 12 characters"), "\(short.all)")
        let unset = try leafguard(["keys", "change-passphrase", "--new-passphrase-env", "LG_NEW_PASSPHRASE", "--config", d.config], environment: env(first))
        #expect(unset.status == 1 && unset.stderr.contains("LG_NEW_PASSPHRASE is not set"), "\(unset.all)")

        let changed = try leafguard(
            ["keys", "change-passphrase", "--new-passphrase-env", "LG_NEW_PASSPHRASE", "--config", d.config, "--log-level", "trace"],
            environment: env(first, new: second))
        #expect(changed.status == 0 && changed.stdout.contains("keyring re-sealed"), "\(changed.all)")
        for secret in [first, second] { #expect(!changed.all.contains(secret), "a passphrase was printed") }
        let mode = try FileManager.default.attributesOfItem(atPath: d.dir.file("state/keys/keyring.json"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let keyring = try String(contentsOfFile: d.dir.file("state/keys/keyring.json"), encoding: .utf8)
        #expect(!keyring.contains(first) && !keyring.contains(second) && keyring.contains("\"salt\""))
        // Only the regions' copies of the keyring change (re-sealed with it), besides the audit
        // objects recording the change; nothing else stored does.
        let afterChange = try storedObjects().filter { !$0.key.contains("/audit/") }
        #expect(afterChange.keys.sorted() == afterCheckpoint.keys.filter { !$0.contains("/audit/") }.sorted())
        for (name, bytes) in afterChange {
            if name.hasSuffix("/keyring") {
                #expect(bytes != afterCheckpoint[name], "\(name) was not re-sealed")
                #expect(bytes == Data(keyring.utf8), "\(name) is not the state folder's keyring")
            } else {
                #expect(bytes == afterCheckpoint[name], "a passphrase change rewrote \(name)")
            }
        }
        #expect(afterCheckpoint.keys.filter { !$0.contains("/audit/") }.allSatisfy { before[$0] == afterCheckpoint[$0] })

        // The old passphrase opens nothing now; the new one restores and signs with the same key.
        let old = try leafguard(["keys", "status", "--config", d.config], environment: env(first))
        #expect(old.status == 1 && old.stderr.contains("does not open with the configured key"), "\(old.all)")
        let restored = try leafguard(["restore", "latest", "--to", d.dir.file("restored"), "--config", d.config], environment: env(second))
        #expect(restored.status == 0, "\(restored.all)")
        #expect(try leafguard(["audit", "checkpoint", "--config", d.config], environment: env(second)).status == 0)
        #expect(try String(contentsOfFile: d.dir.file("state/keys/audit-signing.pub"), encoding: .utf8) == publicKey)
        let verify = try leafguard(["audit", "verify", "--config", d.config], environment: env(second))
        #expect(verify.status == 0, "\(verify.all)")
        // Rotation still works under the new passphrase, and a second change keeps every version.
        #expect(try leafguard(["keys", "rotate", "--config", d.config], environment: env(second)).status == 0)
        #expect(
            try leafguard(
                ["keys", "change-passphrase", "--new-passphrase-env", "LG_NEW_PASSPHRASE", "--config", d.config],
                environment: env(second, new: first + "!")
            ).status == 0)
        let status = try leafguard(["keys", "status", "--config", d.config], environment: env(first + "!"))
        #expect(status.status == 0 && status.stdout.contains("v1  decrypt-only") && status.stdout.contains("v2  active"), "\(status.all)")
        #expect(
            try leafguard(
                ["restore", "latest", "--region", "backup", "--to", d.dir.file("restored-2"), "--config", d.config],
                environment: env(first + "!")
            ).status == 0)
    }
}

/// A command, and a run with all its steps and audit entries, opens the deployment once:
/// one master-key load, one keyring read (it was one per step and several per audit entry).
@Suite struct DeploymentOnceTests {
    @Test func aRunOfThreeStepsAndARestoreEachLoadTheMasterKeyOnce() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}, {verify: {read_data: 5}}]\n")
        try d.usePassphrase(from: "LG_ONCE")
        var env = ProcessInfo.processInfo.environment
        env["LG_ONCE"] = "correct horse battery staple"
        func loads(_ r: CommandOutput) -> Int { r.all.components(separatedBy: "master key loaded").count - 1 }
        let run = try leafguard(["run", "nightly", "--config", d.config, "--log-level", "debug"], environment: env)
        #expect(run.status == 0, "\(run.all)")
        #expect(loads(run) == 1, "\(loads(run)) loads: \(run.stderr.split(separator: "\n").filter { $0.contains("master key loaded") })")
        // Each region's repository is opened once for all three steps and the run's audit
        // entries (it was opened again by every step and every audit entry).
        func opens(_ r: CommandOutput) -> [String] { r.stderr.split(separator: "\n").filter { $0.contains("repository opened") }.map(String.init) }
        #expect(opens(run).count == 2, "\(opens(run).count) opens: \(opens(run))")
        #expect(opens(run).filter { $0.contains("region=primary") }.count == 1 && opens(run).filter { $0.contains("region=backup") }.count == 1)
        let restore = try leafguard(
            ["restore", "latest", "--region", "backup", "--to", d.dir.file("r"), "--config", d.config, "--log-level", "debug"], environment: env)
        #expect(restore.status == 0, "\(restore.all.suffix(2000))")
        #expect(loads(restore) == 1, "\(loads(restore)) loads")
        #expect(opens(restore).count <= 2, "\(opens(restore))")
    }
}
