import Foundation
import LeafRepository
import LeafTestSupport
import Testing

@Suite struct CrashSafetyTests {
    @Test func packsWrittenBeforeACrashAreFoundAndReused() throws {
        let f = try BackupFixture()
        let first = try f.backup()
        // Simulate a crash after the data was stored but before index and snapshot were.
        for i in 0..<f.locationCount {
            for sub in ["index", "snapshots"] { try? FileManager.default.removeItem(atPath: f.locationRoot(i) + "/" + sub) }
        }
        #expect(try f.repository(create: false).snapshots().isEmpty)
        let second = try f.backup()
        #expect(second.packsRecovered == first.packsWritten)
        #expect(second.bytesAdded <= 64 << 10, "reused the stored packs, added \(second.bytesAdded)")
        _ = try f.restore()
        #expect(sameTree(f.dataDirectory, f.dir.file("restored")))
    }

    /// Kills `leafguard run` at many random moments; after each kill every listed snapshot
    /// restores intact, and a final run completes.
    @Test func killingABackupAtRandomMomentsNeverLeavesABrokenSnapshot() throws {
        let d = try DeploymentFixture()
        var generator = SystemRandomNumberGenerator()
        // How long one run takes here, so kills land all along it.
        try addDocument(to: d, megabytes: 3)
        let t0 = Date()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let duration = max(Date().timeIntervalSince(t0), 0.05)
        var kills = 0
        var verified = Set<String>()
        for round in 0..<12 {
            // Each round the application adds a document, so every run has new data to store.
            try addDocument(to: d, megabytes: 3)
            let p = try startLeafguard(["run", "backup-only", "--config", d.config])
            usleep(UInt32(Double.random(in: 0.02...1.0, using: &generator) * duration * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            // Every snapshot the region lists must restore completely.
            let list = try leafguard(["snapshots", "list", "--json", "--config", d.config])
            if list.status != 0 { continue }  // killed before the repository existed
            let ids = try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(list.stdout.utf8)).compactMap { $0["id"]?.string }
            for id in ids where verified.insert(id).inserted {
                let target = d.dir.file("restore-\(round)-\(id)")
                let r = try leafguard(["restore", id, "--to", target, "--config", d.config])
                #expect(r.status == 0, "round \(round): snapshot \(id) does not restore: \(r.all)")
                // Documents are immutable: every restored one equals the live file of that name.
                let restored = filesBelow(target + "/documents")
                #expect(restored.count >= 50)
                #expect(
                    restored.allSatisfy {
                        FileManager.default.contentsEqual(atPath: target + "/documents/" + $0, andPath: d.dir.file("planner-data/documents/" + $0))
                    })
            }
        }
        #expect(kills > 0, "at least one run was killed midway")
        let final = try leafguard(["run", "backup-only", "--config", d.config, "--log-level", "debug"])
        #expect(final.status == 0, "\(final.all)")
        #expect(!FileManager.default.fileExists(atPath: d.dir.file("state/backup-running-primary")), "a finished run clears its marker")
        let r = try leafguard(["restore", "latest", "--to", d.dir.file("final"), "--config", d.config])
        #expect(r.status == 0)
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("final")))
    }
}

/// A backup killed after the k-th shard of a pack, for every k: the next run leaves that
/// pack complete in every location of both regions, so verify is clean without --repair.
@Suite struct KilledPackTests {
    @Test func aPackKilledAfterAnyShardIsCompletedOrStoredAgain() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        var env = ProcessInfo.processInfo.environment
        for k in 1...6 {
            try addDocument(to: d, megabytes: 2)
            env["LEAFGUARD_CRASH_AFTER_SHARDS"] = "\(k)"
            let killed = try leafguard(["run", "backup-only", "--config", d.config], environment: env)
            #expect(killed.status == 137, "k=\(k): the crash point was reached: \(killed.all)")
            // The next backup alone completes (or discards) the pack: the primary is clean.
            let next = try leafguard(["run", "backup-only", "--config", d.config])
            #expect(next.status == 0, "k=\(k): \(next.all)")
            let primary = try leafguard(["verify", "--read-data", "--region", "primary", "--config", d.config])
            #expect(primary.status == 0 && !primary.stdout.contains("PROBLEM"), "k=\(k): verify without --repair: \(primary.all)")
            // Replication copies it complete.
            #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
            let v = try leafguard(["verify", "--read-data", "--config", d.config])
            #expect(v.status == 0 && !v.stdout.contains("PROBLEM"), "k=\(k): verify without --repair: \(v.all)")
        }
        let r = try leafguard(["restore", "latest", "--region", "backup", "--to", d.dir.file("final"), "--config", d.config])
        #expect(r.status == 0, "\(r.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("final")))
    }
}

extension KilledPackTests {
    /// Key objects a killed run left in some locations: a needed one is completed to every
    /// location, an unneeded one removed; replication spreads neither half-written.
    @Test func keyObjectsLeftPartlyWrittenAreCompletedOrRemoved() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let before = Set(filesBelow(d.dir.file("regions/primary/loc0/keys")))
        #expect(try leafguard(["keys", "add-data-keys", "1", "--config", d.config]).status == 0)
        let stray = try #require(Set(filesBelow(d.dir.file("regions/primary/loc0/keys"))).subtracting(before).first)
        let needed = try #require(before.first)
        // As a run killed while writing them leaves them: the stray key in loc0 only, a
        // needed key in loc5 only.
        for i in 1..<6 { try FileManager.default.removeItem(atPath: d.dir.file("regions/primary/loc\(i)/keys/\(stray)")) }
        for i in 0..<5 { try FileManager.default.removeItem(atPath: d.dir.file("regions/primary/loc\(i)/keys/\(needed)")) }
        FileManager.default.createFile(atPath: d.dir.file("state/backup-running-primary"), contents: Data("1\n".utf8))
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        for region in ["primary", "backup"] {
            for i in 0..<6 {
                let keys = Set(filesBelow(d.dir.file("regions/\(region)/loc\(i)/keys")))
                #expect(keys.contains(needed), "\(region)/loc\(i) lacks the needed key")
                #expect(!keys.contains(stray), "\(region)/loc\(i) holds the stray key")
            }
        }
        let v = try leafguard(["verify", "--read-data", "--config", d.config])
        #expect(v.status == 0 && !v.stdout.contains("PROBLEM"), "\(v.all)")
    }
}

/// The realistic loop: backup + replicate, prune, rotate and re-encrypt, each SIGKILLed at
/// a random moment of a measured run, the data growing every round. After the next run of
/// the killed job, `verify --read-data` is clean without --repair and every snapshot each
/// region lists restores from it. 12 kills by default (two rounds of the six-job order;
/// the crash points themselves are killed deterministically by KilledPackTests and the
/// stall hooks); LEAFGUARD_LONG_TESTS=1 makes it 100.
@Suite struct RandomKillTests {
    @Test func killedAnywhereTheNextRunLeavesEverythingComplete() throws {
        let wanted = ProcessInfo.processInfo.environment["LEAFGUARD_LONG_TESTS"] == nil ? 12 : 100
        let d = try DeploymentFixture()
        let jobs = [
            "nightly": "steps: [backup, {replicate: {to: backup}}]",
            "prune": "steps: [{prune: {keep_last: 3}}]",
            "rotate": "steps: [{rotate-keys: {grace_days: 0}}]",
            "rekey": "steps: [{reencrypt: {older_than: 0s}}]",
        ]
        for (name, body) in jobs { try d.dir.write("jobs/\(name).yml", "name: \(name)\n\(body)\n") }
        var durations: [String: Double] = [:]
        for name in ["nightly", "prune", "rotate", "rekey", "nightly"] {
            try addDocument(to: d, megabytes: 1)
            let t0 = Date()
            let r = try leafguard(["run", name, "--config", d.config])
            #expect(r.status == 0, "\(name): \(r.all)")
            durations[name] = max(Date().timeIntervalSince(t0), 0.05)
        }
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        var attempts = 0
        let order = ["nightly", "nightly", "prune", "rotate", "nightly", "rekey"]
        while kills < wanted && attempts < wanted * 3 {
            let name = order[attempts % order.count]
            attempts += 1
            try addDocument(to: d, megabytes: 1)
            let p = try startLeafguard(["run", name, "--config", d.config])
            usleep(UInt32(Double.random(in: 0.05...0.9, using: &generator) * durations[name]! * 1_000_000))
            guard p.isRunning else { p.waitUntilExit(); continue }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            kills += 1
            // The next run of the same job finishes what the killed one left.
            let next = try leafguard(["run", name, "--config", d.config])
            #expect(next.status == 0, "round \(attempts), \(name) after a kill: \(next.all)")
            let v = try leafguard(["verify", "--read-data", "--config", d.config])
            #expect(v.status == 0 && !v.stdout.contains("PROBLEM"), "round \(attempts), \(name): verify without --repair: \(v.all)")
            for region in ["primary", "backup"] {
                let list = try leafguard(["snapshots", "list", "--json", "--region", region, "--config", d.config])
                let ids = try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(list.stdout.utf8)).compactMap { $0["id"]?.string }
                #expect(!ids.isEmpty)
                for id in ids {
                    let target = d.dir.file("r-\(attempts)-\(region)-\(id)")
                    let r = try leafguard(["restore", id, "--region", region, "--to", target, "--config", d.config])
                    #expect(r.status == 0, "round \(attempts), \(name): snapshot \(id) from \(region): \(r.all)")
                    try? FileManager.default.removeItem(atPath: target)
                }
            }
        }
        #expect(kills >= wanted, "only \(kills) of \(attempts) attempts killed a run")
    }
}
