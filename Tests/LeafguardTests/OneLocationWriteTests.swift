import Foundation
import LeafTestSupport
import Testing

/// One location is one vote for writes too (issue 29, defect 1): with a location that
/// refuses writes (a folder replaced by a link, the location replaced by a plain file), a
/// region with 4+2 shards keeps backing up, rotating, replicating and pruning, says which
/// location failed and why, and `verify --repair` restores the copies once the location
/// takes writes again.
@Suite struct OneLocationWriteTests {
    enum Damage: String, CaseIterable, Sendable {
        /// loc0/snapshots replaced by a link to a folder elsewhere.
        case snapshotsFolderIsALink
        /// loc0 itself replaced by a plain file.
        case locationIsAFile
    }

    func damage(_ f: DisasterFixture, _ damage: Damage) throws {
        let loc0 = f.file("regions/primary/loc0")
        switch damage {
        case .snapshotsFolderIsALink:
            try FileManager.default.createDirectory(atPath: f.file("elsewhere"), withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: loc0 + "/snapshots", toPath: f.file("moved-snapshots"))
            try FileManager.default.createSymbolicLink(atPath: loc0 + "/snapshots", withDestinationPath: f.file("elsewhere"))
        case .locationIsAFile:
            try FileManager.default.moveItem(atPath: loc0, toPath: f.file("moved-loc0"))
            FileManager.default.createFile(atPath: loc0, contents: Data("not a folder".utf8))
        }
    }

    func mend(_ f: DisasterFixture, _ damage: Damage) throws {
        let loc0 = f.file("regions/primary/loc0")
        switch damage {
        case .snapshotsFolderIsALink:
            try FileManager.default.removeItem(atPath: loc0 + "/snapshots")
            try FileManager.default.moveItem(atPath: f.file("moved-snapshots"), toPath: loc0 + "/snapshots")
        case .locationIsAFile:
            try FileManager.default.removeItem(atPath: loc0)
            try FileManager.default.moveItem(atPath: f.file("moved-loc0"), toPath: loc0)
        }
    }

    @Test(arguments: Damage.allCases) func aRegionKeepsWorkingWithOneUnwritableLocation(_ damage: Damage) throws {
        let f = try DisasterFixture()
        try self.damage(f, damage)
        try addDocument(to: f.d, megabytes: 1)
        let backup = try f.run(["run", "nightly"])
        #expect(backup.status == 3, "\(damage): the run did its work and warned: \(backup.all)")
        #expect(backup.all.contains("primary/loc0"), "\(damage): the location is named: \(backup.all)")
        let ids = try f.snapshotIDs()
        #expect(ids.count == 4, "\(damage): the new snapshot is listed: \(ids)")
        #expect(try f.snapshotIDs(region: "backup").count == 4, "\(damage): and replicated")
        let restored = f.file("restored")
        let r = try f.run(["restore", "latest", "--to", restored])
        // A restore stores its audit entry in the regions too: where loc0 refuses that write,
        // it restores and warns (exit 3), naming the location.
        let expectedStatus: Int32 = damage == .locationIsAFile ? 3 : 0
        #expect(r.status == expectedStatus && sameTree(f.file("planner-data"), restored), "\(damage): exit \(r.status): \(r.stderr)")
        #expect(r.status == 0 || r.stderr.contains("primary/loc0: audit/"), "\(damage): \(r.stderr)")
        let rotate = try f.run(["keys", "rotate"])
        #expect(rotate.status == 0 || rotate.status == 3, "\(damage): a rotation goes on: \(rotate.all)")
        try f.d.dir.write("jobs/prune.yml", "name: prune\nsteps: [{prune: {keep_last: 2}}]\n")
        let prune = try f.run(["run", "prune"])
        #expect(prune.status == 0 || prune.status == 3, "\(damage): a prune goes on: \(prune.all)")
        #expect(try f.snapshotIDs().count == 2 && f.snapshotIDs(region: "backup").count == 2, "\(damage): pruned to 2 in both regions")

        // Once the location takes writes again, one repair pass restores every copy.
        try mend(f, damage)
        let repair = try f.run(["verify", "--read-data", "--repair", "--region", "primary"])
        #expect(repair.status == 0, "\(damage): repair: \(repair.all)")
        try f.expectVerifyClean("\(damage) repaired")
        let again = try f.run(["run", "nightly"])
        #expect(again.status == 0, "\(damage): the next backup is clean: \(again.all)")
        #expect(try f.snapshotIDs().count == 3, "\(damage): no pruned snapshot came back from the mended location")
        let latest = f.file("latest")
        let r2 = try f.run(["restore", "latest", "--to", latest])
        #expect(r2.status == 0 && sameTree(f.file("planner-data"), latest), "\(damage): \(r2.all)")
    }
}
