import Foundation
import LeafTestSupport
import Testing

/// "latest" is the last snapshot written, not the newest date (issue 30, point 4): a run
/// with `--now` two days ahead (documented for drills) made snapshots that `restore latest`
/// and the restore drill then chose over the real newest, with no warning. Now the audit
/// log's order of writes decides, and a snapshot dated ahead is flagged by `snapshots list`
/// and noted by verify.
@Suite struct LatestTests {
    func snapshotIDs(_ d: DeploymentFixture) throws -> [String] {
        let r = try leafguard(["snapshots", "list", "--json", "--config", d.config])
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        return rows.compactMap { $0["id"] as? String }
    }

    @Test func latestIsTheLastWrittenWhateverItsDate() throws {
        let d = try DeploymentFixture()
        try d.markDrillCopy()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let ahead = ISO8601DateFormatter().string(from: Date().addingTimeInterval(2 * 86400))
        try addDocument(to: d, megabytes: 1)
        let drill = try leafguard(["run", "backup-only", "--now", ahead, "--config", d.config])
        #expect(drill.status == 0, "\(drill.all)")
        let datedAhead = try #require(try snapshotIDs(d).last, "the snapshot dated ahead sorts last")
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let ids = try snapshotIDs(d)
        #expect(ids.count == 3 && ids.last == datedAhead)
        let written = try #require(ids.dropLast().last, "the last one written has an earlier date")

        let list = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(list.status == 0 && list.stderr.contains("ahead of this host's clock") && list.stdout.contains("(dated ahead)"), "\(list.all)")
        let restored = d.dir.file("restored")
        let restore = try leafguard(["restore", "latest", "--to", restored, "--config", d.config])
        #expect(restore.status == 0 && restore.stderr.contains("was not the last one written"), "\(restore.all)")
        #expect(sameTree(d.dir.file("planner-data"), restored), "latest restored the last snapshot written, with every document")
        let ls = try leafguard(["ls", "latest", "planner.db", "--json", "--config", d.config])
        #expect(ls.stdout.contains(written) && !ls.stdout.contains(datedAhead), "\(ls.all)")
        let verify = try leafguard(["verify", "--config", d.config])
        #expect(verify.status == 0 && verify.stdout.contains("future-snapshot"), "a note, not a failure: \(verify.all)")
    }
}
