import Foundation
import LeafBackup
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafKeys
import LeafRepository
import LeafSodium
import LeafTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Master-key rotation against a real deployment: every snapshot restores before, during
/// and after; an interrupted rotation resumes; retirement waits until nothing needs a version.
@Suite struct KeyRotationTests {
    func deployment() throws -> DeploymentFixture {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        return d
    }

    func census(_ d: DeploymentFixture) throws -> [String: [String: Int]] {
        let r = try leafguard(["keys", "status", "--json", "--config", d.config])
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        var out: [String: [String: Int]] = [:]
        for v in o?["versions"] as? [[String: Any]] ?? [] {
            out["v\(v["version"] as! Int) \(v["state"] as! String)"] = v["data_keys"] as? [String: Int]
        }
        return out
    }

    func restoreEverySnapshot(_ d: DeploymentFixture, _ label: String) throws {
        let list = try leafguard(["snapshots", "list", "--json", "--config", d.config])
        let ids = try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(list.stdout.utf8)).compactMap { $0["id"]?.string }
        #expect(!ids.isEmpty)
        for id in ids {
            for region in ["primary", "backup"] {
                let target = d.dir.file("restore-\(label)-\(region)-\(id)")
                let r = try leafguard(["restore", id, "--region", region, "--to", target, "--config", d.config])
                #expect(r.status == 0, "\(label): snapshot \(id) from \(region): \(r.all)")
            }
        }
    }

    @Test func rotateTwiceRetireAndRestoreEverySnapshot() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try census(d) == ["v1 active": ["primary": 2, "backup": 2]])
        let first = try leafguard(["keys", "rotate", "--config", d.config])
        #expect(first.status == 0 && first.stdout.contains("activated master-key version 2"), "\(first.all)")
        #expect(try census(d) == ["v1 decrypt-only": ["primary": 0, "backup": 0], "v2 active": ["primary": 2, "backup": 2]])
        let mode = try FileManager.default.attributesOfItem(atPath: d.dir.file("state/keys/keyring.json"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // New data after the rotation is wrapped by version 2.
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        try restoreEverySnapshot(d, "after-first")
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).stdout.contains("version 3"))
        #expect(try census(d)["v3 active"] == ["primary": 3, "backup": 3])
        try restoreEverySnapshot(d, "after-second")

        // Retire: refused for the active version, allowed for unused ones.
        let refused = try leafguard(["keys", "retire", "3", "--config", d.config])
        #expect(refused.status == 1 && refused.stderr.contains("active version"), "\(refused.all)")
        #expect(try leafguard(["keys", "retire", "1", "--wipe-after", "0s", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "retire", "2", "--config", d.config]).status == 0)
        let status = try leafguard(["keys", "status", "--config", d.config]).stdout
        #expect(status.contains("v1  retired") && status.contains("material wiped") && status.contains("v2  retired"), "\(status)")
        try restoreEverySnapshot(d, "after-retire")
        // The audit log has each key operation, the refused one included.
        let audit = try leafguard(["audit", "show", "--config", d.config]).stdout
        #expect(audit.components(separatedBy: "\tkey.rotate\t").count == 3 && audit.components(separatedBy: "\tkey.retire\t").count == 4)
        #expect(audit.contains("key.retire\t-\tfailed"))
    }

    @Test func retiringAVersionStillInUseIsRefusedWithTheCensus() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        // A rotation that stopped after activating version 2 but before re-wrapping anything.
        let config = try ConfigLoader.load(path: d.config)
        var ring = try Deployment(config: config).keyring()
        try ring.rotate()
        let refused = try leafguard(["keys", "retire", "1", "--config", d.config])
        #expect(refused.status == 1 && refused.stderr.contains("version 1 still wraps 2 data key(s) in 'primary', 2 data key(s) in 'backup'"), "\(refused.all)")
        try restoreEverySnapshot(d, "half")
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "retire", "1", "--config", d.config]).status == 0)
        // A retired version opens nothing: a data key still wrapped by it (put back by hand) fails loudly.
        try restoreEverySnapshot(d, "retired")
    }

    @Test func anInterruptedRotationResumesAndLosesNothing() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        // Enough data keys that re-wrapping takes a while.
        let config = try ConfigLoader.load(path: d.config)
        let repo = try Deployment(config: config).repository("primary")
        for _ in 0..<600 { _ = try repo.newDataKey() }
        // Every attempt starts from the same state: a rotation that finished before the kill
        // is undone, so the next attempt again re-wraps 602 single keys (not a fast key set).
        let fm = FileManager.default
        for dir in ["state", "regions"] { try fm.copyItem(atPath: d.dir.file(dir), toPath: d.dir.file(dir + "-before")) }
        var interrupted = false
        for attempt in 0..<20 where !interrupted {
            if attempt > 0 {
                for dir in ["state", "regions"] {
                    try fm.removeItem(atPath: d.dir.file(dir))
                    try fm.copyItem(atPath: d.dir.file(dir + "-before"), toPath: d.dir.file(dir))
                }
            }
            let p = try startLeafguard(["keys", "rotate", "--config", d.config])
            while p.isRunning && !FileManager.default.fileExists(atPath: d.dir.file("state/keys/rotation.json")) { usleep(100) }
            usleep(UInt32.random(in: 0...(attempt < 10 ? 5_000 : 20_000)))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            interrupted = p.terminationReason == .uncaughtSignal && FileManager.default.fileExists(atPath: d.dir.file("state/keys/rotation.json"))
        }
        try #require(interrupted, "could not stop a rotation midway")
        try restoreEverySnapshot(d, "interrupted")
        let status = try leafguard(["keys", "status", "--config", d.config]).stdout
        #expect(status.contains("a rotation is unfinished"))
        let resumed = try leafguard(["keys", "rotate", "--config", d.config])
        #expect(resumed.status == 0 && resumed.stdout.contains("finished the rotation to master-key version"), "\(resumed.all)")
        let c = try census(d)
        let active = try #require(c.first { $0.key.hasSuffix("active") })
        #expect(active.value["primary"] == 602 && active.value["backup"] == 2, "\(c)")
        #expect(c.filter { !$0.key.hasSuffix("active") }.allSatisfy { $0.value.values.allSatisfy { $0 == 0 } }, "\(c)")
        try restoreEverySnapshot(d, "resumed")
    }

    /// The two moments a rotation can stop with work on disk, rebuilt exactly: the new key
    /// set written to only some locations, and the set everywhere with the old key objects
    /// removed from only some. A rerun finishes either; nothing is ever unreadable.
    @Test func aRotationStoppedBetweenItsStepsIsFinishedByARerun() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let repo = try Deployment(config: try ConfigLoader.load(path: d.config)).repository("primary")
        for _ in 0..<50 { _ = try repo.newDataKey() }
        let fm = FileManager.default
        let primary = d.dir.file("regions/primary")
        let before = d.dir.file("primary-before")
        try fm.copyItem(atPath: primary, toPath: before)
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        let set = try #require(filesBelow(primary + "/loc0/keys").first)
        #expect(filesBelow(primary + "/loc0/keys") == [set] && set.hasPrefix("set-"))
        let setBytes = try Data(contentsOf: URL(fileURLWithPath: primary + "/loc0/keys/" + set))
        let checkpoint = #"{"target":2,"started":"2026-11-29T12:00:00Z","regionsDone":["backup"]}"#

        func stopped(setIn: [Int], singlesRemovedFrom: [Int]) throws {
            try fm.removeItem(atPath: primary)
            try fm.copyItem(atPath: before, toPath: primary)
            for i in setIn { try setBytes.write(to: URL(fileURLWithPath: "\(primary)/loc\(i)/keys/\(set)")) }
            for i in singlesRemovedFrom {
                for f in filesBelow("\(primary)/loc\(i)/keys") where !f.hasPrefix("set-") { try fm.removeItem(atPath: "\(primary)/loc\(i)/keys/\(f)") }
            }
            try d.dir.write("state/keys/rotation.json", checkpoint)
        }

        // 1. The set reached three of six locations.
        try stopped(setIn: [0, 1, 2], singlesRemovedFrom: [])
        try restoreEverySnapshot(d, "set-in-half")
        let first = try leafguard(["keys", "rotate", "--config", d.config])
        #expect(first.status == 0 && first.stdout.contains("finished the rotation to master-key version 2"), "\(first.all)")
        let rewritten = filesBelow(primary + "/loc0/keys")
        #expect(rewritten.count == 1 && rewritten != [set], "an incomplete set is replaced by a complete one: \(rewritten)")
        for i in 1..<6 { #expect(filesBelow("\(primary)/loc\(i)/keys") == rewritten) }
        #expect(try census(d) == ["v1 decrypt-only": ["primary": 0, "backup": 0], "v2 active": ["primary": 52, "backup": 2]])
        try restoreEverySnapshot(d, "finished-1")

        // 2. The set everywhere; the old objects gone from three locations only.
        try stopped(setIn: Array(0..<6), singlesRemovedFrom: [3, 4, 5])
        try restoreEverySnapshot(d, "half-removed")
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        for i in 0..<6 { #expect(filesBelow("\(primary)/loc\(i)/keys") == [set], "a complete set is kept, the rest removed") }
        #expect(try census(d)["v2 active"] == ["primary": 52, "backup": 2])
        try restoreEverySnapshot(d, "finished-2")
    }

    @Test func aTamperedWrappedKeyOrAWrongKeyIsDetectedAndNoSecretIsPrinted() throws {
        let d = try deployment()
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        #expect(try leafguard(["keys", "rotate", "--config", d.config]).status == 0)
        // Flip a byte of one wrapped key in every location of the primary region.
        let keyNames = filesBelow(d.dir.file("regions/primary/loc0/keys"))
        let victim = try #require(keyNames.first)
        for i in 0..<6 {
            let path = d.dir.file("regions/primary/loc\(i)/keys/\(victim)")
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count - 5] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let r = try leafguard(["restore", "latest", "--to", d.dir.file("x"), "--config", d.config])
        #expect(r.status == 1 && r.stderr.contains(victim), "\(r.all)")
        // The backup region's copy still restores.
        #expect(try leafguard(["restore", "latest", "--region", "backup", "--to", d.dir.file("y"), "--config", d.config]).status == 0)
        // A data key with no readable copy at all is named by the census.
        let lost = try Deployment(config: try ConfigLoader.load(path: d.config)).repository("backup").newDataKey().id.hex
        for i in 0..<6 { try Data("junk".utf8).write(to: URL(fileURLWithPath: d.dir.file("regions/backup/loc\(i)/keys/\(lost)"))) }
        let census =
            try JSONSerialization.jsonObject(with: Data(try leafguard(["keys", "status", "--json", "--config", d.config]).stdout.utf8)) as? [String: Any]
        #expect((census?["unreadable_keys"] as? [String: [String]])?["backup"] == ["keys/\(lost)"], "\(String(describing: census))")

        // A different key file does not open the keyring.
        let key = d.dir.file("keys/master.key")
        let original = try Data(contentsOf: URL(fileURLWithPath: key))
        try FileManager.default.removeItem(atPath: key)
        try MasterKeySource.createKeyFile(at: key)
        let wrong = try leafguard(["keys", "status", "--config", d.config])
        #expect(wrong.status == 1 && wrong.stderr.contains("does not open with the configured key"), "\(wrong.all)")
        try FileManager.default.removeItem(atPath: key)
        FileManager.default.createFile(atPath: key, contents: original, attributes: [.posixPermissions: 0o600])

        // No output of any key command carries the key's bytes or their base64 or hex.
        let raw = [UInt8](
            original.count == 32 ? original : Data(base64Encoded: String(decoding: original, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!)
        let forms = [Data(raw).base64EncodedString(), raw.map { String(format: "%02x", $0) }.joined()]
        for args in [["keys", "status"], ["keys", "status", "--json"], ["keys", "rotate"], ["audit", "show", "--json"], ["history", "--json"]] {
            let out = try leafguard(args + ["--config", d.config, "--log-level", "trace"])
            for f in forms { #expect(!out.all.contains(f), "\(args) printed the key") }
        }
        let keyring = try String(contentsOfFile: d.dir.file("state/keys/keyring.json"), encoding: .utf8)
        for f in forms { #expect(!keyring.contains(f), "the keyring holds the key in the clear") }
    }
}

/// A process that read the keyring before another process rotated the master key (a backup
/// running while an operator runs `keys rotate`) meets data keys wrapped under a version it
/// does not know. It reads the keyring again instead of failing with "the master key given
/// does not open data key …; check keys.master", which stopped the backup's replication and
/// kept its audit entries from the regions.
@Suite struct ConcurrentRotationTests {
    @Test func aRotationByAnotherProcessIsPickedUpMidway() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let deployment = Deployment(config: try ConfigLoader.load(path: d.config))
        let before = try deployment.repository("primary")  // the keyring (version 1) read, the region open
        let rotate = try leafguard(["keys", "rotate", "--config", d.config])
        #expect(rotate.status == 0, "\(rotate.all)")
        // The repository opened before the rotation reads what is now wrapped under version 2,
        let snapshot = try #require(try before.snapshots().last)
        _ = try Restore(repository: before).run(snapshot, to: d.dir.file("restored"), force: false)
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("restored")))
        // and the same deployment opens the region again (its identity key re-wrapped too).
        #expect(try deployment.repository("primary").snapshots().count == 1)
        #expect(try deployment.keyring().active.version == 2)
    }
}
