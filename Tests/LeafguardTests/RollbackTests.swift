import Foundation
import LeafTestSupport
import Testing

/// Snapshots deleted or rolled back in every location of a region (by someone with the
/// bucket's delete right, or a restore of an old bucket copy) are noticed: each region's
/// signed head lists what it should hold, and copies of it live in both regions and the
/// state folder.
@Suite struct RollbackTests {
    func snapshotIDs(_ d: DeploymentFixture, _ region: String = "primary") throws -> [String] {
        let r = try leafguard(["snapshots", "list", "--json", "--region", region, "--config", d.config])
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        return rows.compactMap { $0["id"] as? String }
    }

    func short(_ hex: String) -> String { String(hex.dropFirst(12).prefix(8)) }

    func deleteEverywhere(_ d: DeploymentFixture, region: String, _ name: String) throws {
        for i in 0..<6 { try? FileManager.default.removeItem(atPath: d.dir.file("regions/\(region)/loc\(i)/\(name)")) }
    }

    func twoSnapshots() throws -> (DeploymentFixture, newest: String, older: String) {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let ids = try snapshotIDs(d)
        #expect(ids.count == 2)
        return (d, ids.last ?? "", ids.first ?? "")
    }

    @Test func theNewestSnapshotDeletedFromEveryLocationIsNoticedAndCopiedBack() throws {
        let (d, newest, older) = try twoSnapshots()
        #expect(try leafguard(["verify", "--config", d.config]).status == 0, "clean before")
        try deleteEverywhere(d, region: "primary", "snapshots/\(newest)")
        // Also the region's own heads: the backup region's copies and the state folder still know.
        for i in 0..<6 {
            let dir = d.dir.file("regions/primary/loc\(i)/heads")
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasPrefix("primary-") {
                try FileManager.default.removeItem(atPath: dir + "/" + f)
            }
        }
        let list = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(list.status == 0 && list.stderr.contains("vanished") && list.stderr.contains(short(newest)), "\(list.all)")
        let restore = try leafguard(["restore", "latest", "--to", d.dir.file("out"), "--config", d.config])
        #expect(restore.status == 0 && restore.stderr.contains("newest snapshot recorded") && restore.stdout.contains(short(older)), "\(restore.all)")
        // A new host: no state folder; the backup region's copy of primary's head still tells.
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        let verify = try leafguard(["verify", "--region", "primary", "--config", d.config])
        #expect(verify.status == 1 && verify.stdout.contains("missing-snapshot") && verify.stdout.contains(short(newest)), "\(verify.all)")
        // Repair copies it back from the backup region; then all is clean and latest is the newest.
        let repair = try leafguard(["verify", "--repair", "--config", d.config])
        #expect(repair.status == 0 && repair.stdout.contains("copied back"), "\(repair.all)")
        #expect(try leafguard(["verify", "--config", d.config]).status == 0)
        #expect(try snapshotIDs(d).last == newest)
    }

    /// One location plants names that sort after every real head of its region (junk, and a
    /// real older head under a newer name). They shadow nothing: the region keeps its real
    /// heads in every other location (leafguard used to remove them, keeping the planted
    /// names), verify names the planted objects, and a rollback is still noticed from the
    /// region itself on a new host whose other region knows nothing.
    @Test func headsPlantedInOneLocationShadowNothing() throws {
        let (d, _, _) = try twoSnapshots()
        let heads0 = d.dir.file("regions/primary/loc0/heads")
        let realOld = try #require(try FileManager.default.contentsOfDirectory(atPath: heads0).filter { $0.hasPrefix("primary-") }.sorted().first)
        try d.dir.write("regions/primary/loc0/heads/primary-9999999999999991", "junk")
        try FileManager.default.copyItem(atPath: heads0 + "/" + realOld, toPath: heads0 + "/primary-9999999999999992")
        try d.dir.write("regions/primary/loc0/heads/primary-9999999999999993", "junk")
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let newest = try #require(try snapshotIDs(d).last)
        func realHeads(_ loc: Int) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: d.dir.file("regions/primary/loc\(loc)/heads"))
                .filter { $0.hasPrefix("primary-") && !$0.hasPrefix("primary-99999") }.sorted()
        }
        #expect(try !realHeads(1).isEmpty && realHeads(1) == realHeads(0), "the real heads stay in every location")
        let v = try leafguard(["verify", "--region", "primary", "--config", d.config])
        #expect(v.status == 0, "\(v.all)")
        for n in 1...3 { #expect(v.stdout.contains("primary/loc0: heads/primary-999999999999999\(n)") && v.stdout.contains("planted"), "\(v.all)") }
        // A rollback of the newest snapshot; the backup region's copies of primary's heads
        // and the state folder gone too: primary's own heads must tell.
        try deleteEverywhere(d, region: "primary", "snapshots/\(newest)")
        for i in 0..<6 {
            let dir = d.dir.file("regions/backup/loc\(i)/heads")
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasPrefix("primary-") {
                try FileManager.default.removeItem(atPath: dir + "/" + f)
            }
        }
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        let after = try leafguard(["verify", "--region", "primary", "--config", d.config])
        #expect(after.status == 1 && after.stdout.contains("missing-snapshot") && after.stdout.contains(short(newest)), "\(after.all)")
    }

    @Test func aLossInEveryRegionStaysReportedUntilAccepted() throws {
        let (d, newest, _) = try twoSnapshots()
        for region in ["primary", "backup"] { try deleteEverywhere(d, region: region, "snapshots/\(newest)") }
        let verify = try leafguard(["verify", "--repair", "--config", d.config])
        #expect(verify.status == 1 && verify.stdout.contains("missing-snapshot"), "no region can give it back: \(verify.all)")
        let accept = try leafguard(["verify", "--repair", "--accept-loss", "--config", d.config])
        #expect(accept.status == 0 && accept.stdout.contains("loss is accepted"), "\(accept.all)")
        #expect(try leafguard(["verify", "--config", d.config]).status == 0, "accepted once, not reported again")
        let audit = try leafguard(["audit", "show", "--json", "--config", d.config])
        #expect(audit.stdout.contains("accept loss"), "the acceptance is in the audit log: \(audit.stdout.suffix(600))")
        #expect(try leafguard(["verify", "--accept-loss", "--config", d.config]).status == 2, "accept-loss alone is refused")
    }

    /// What leafguard removes itself (prune, reencrypt) is never reported.
    @Test func pruneAndReencryptAreNotMistakenForDeletion() throws {
        let (d, _, _) = try twoSnapshots()
        try d.dir.write("jobs/prune.yml", "name: prune\nsteps:\n  - prune: {keep_last: 1}\n")
        try d.dir.write("jobs/rekey.yml", "name: rekey\nsteps: [{reencrypt: {older_than: 0s}}]\n")
        #expect(try leafguard(["run", "prune", "--config", d.config]).status == 0)
        #expect(try leafguard(["run", "rekey", "--config", d.config]).status == 0)
        let verify = try leafguard(["verify", "--config", d.config])
        #expect(verify.status == 0 && !verify.stdout.contains("missing-"), "\(verify.all)")
        let list = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(!list.stderr.contains("vanished"), "\(list.all)")
    }
}
