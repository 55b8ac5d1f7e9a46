import Foundation
import LeafTestSupport
import Testing

/// Looking inside snapshots without restoring them (issue 30, point 1, first part): `ls`
/// lists what a snapshot holds, `find` finds a file across snapshots; both with --json.
@Suite struct BrowseTests {
    func json(_ r: CommandOutput) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
    }

    @Test func lsListsWhatASnapshotHolds() throws {
        let f = try DisasterFixture()
        let latest = f.expected.last!
        let onDisk = Set(filesBelow(latest.data + "/documents").map { "documents/" + $0 })
        let ls = try f.run(["ls", "latest", "documents", "--json"])
        #expect(ls.status == 0, "\(ls.all)")
        let rows = try json(ls)
        #expect(Set(rows.compactMap { $0["path"] as? String }) == onDisk)
        #expect(rows.allSatisfy { ($0["snapshot"] as? String) == latest.id && ($0["snapshot_time"] as? String)?.hasSuffix("Z") == true })
        // One folder, and the whole snapshot (the database first), for people.
        let one = try #require(onDisk.sorted().first)
        let folder = (one as NSString).deletingLastPathComponent
        let some = try f.run(["ls", String(latest.id.prefix(12)), folder])
        #expect(some.status == 0 && some.stdout.contains(one) && !some.stdout.contains("planner.db"), "\(some.all)")
        let all = try f.run(["ls", "latest"])
        #expect(all.stdout.contains("planner.db") && all.stdout.contains("\(onDisk.count + 1) file(s)"), "\(all.all)")
        let none = try f.run(["ls", "ffffffff"])
        #expect(none.status == 1 && none.stderr.contains("no snapshot 'ffffffff'"), "\(none.all)")
    }

    @Test func findFindsAFileInEverySnapshotThatHoldsIt() throws {
        let f = try DisasterFixture()
        // A document every snapshot holds, and one only the newest holds (added before it).
        let first = Set(filesBelow(f.expected[0].data + "/documents"))
        let last = Set(filesBelow(f.expected[2].data + "/documents"))
        let everywhere = try #require(first.intersection(last).sorted().first)
        let newest = try #require(last.subtracting(Set(filesBelow(f.expected[1].data + "/documents"))).sorted().first)
        let name = (everywhere as NSString).lastPathComponent
        let r = try f.run(["find", name, "--json"])
        #expect(r.status == 0, "\(r.all)")
        #expect(Set(try json(r).compactMap { $0["snapshot"] as? String }) == Set(f.expected.map(\.id)), "\(r.all)")
        let added = try f.run(["find", "*" + (newest as NSString).lastPathComponent.suffix(12), "--json"])
        #expect(try json(added).compactMap { $0["snapshot"] as? String } == [f.expected[2].id], "\(added.all)")
        let one = try f.run(["find", "documents/*", "--snapshot", f.expected[0].id, "--json"])
        #expect(try json(one).count == first.count, "\(one.all)")
        let nothing = try f.run(["find", "*.nothing-has-this"])
        #expect(nothing.status == 0 && nothing.stdout.contains("no file matches"), "\(nothing.all)")
    }
}

/// `leafguard stats` (issue 30, point 1): what a region holds, its figures checked against
/// the files in the region and the data the snapshots saved.
@Suite struct StatsTests {
    @Test func statsAddUpToWhatTheRegionHolds() throws {
        let f = try DisasterFixture()
        let r = try f.run(["stats", "--json"])
        #expect(r.status == 0, "\(r.all)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        func int(_ key: String) -> Int64 { (s[key] as? NSNumber)?.int64Value ?? -1 }
        #expect(int("snapshots") == 3)
        // Stored: every shard file of the region, less each one's 64-byte header and 16-byte tag.
        var shardBytes: Int64 = 0
        var shards: Int64 = 0
        for loc in 0..<6 {
            let data = f.file("regions/primary/loc\(loc)/data")
            for name in filesBelow(data) {
                shardBytes += ((try? FileManager.default.attributesOfItem(atPath: data + "/" + name)[.size]) as? NSNumber)?.int64Value ?? 0
                shards += 1
            }
        }
        #expect(int("stored_bytes") == shardBytes - 80 * shards, "stored \(int("stored_bytes")), shard files \(shardBytes) in \(shards)")
        // Logical: the three snapshots' files; unique: at least the newest snapshot's, far less
        // than all three (they share all but the documents added between them).
        // What a snapshot saves: the database and the documents (not SQLite's side files).
        func size(_ folder: String) -> Int64 {
            filesBelow(folder).filter { $0 == "planner.db" || $0.hasPrefix("documents/") }.reduce(Int64(0)) { sum, name in
                sum + (((try? FileManager.default.attributesOfItem(atPath: folder + "/" + name)[.size]) as? NSNumber)?.int64Value ?? 0)
            }
        }
        #expect(int("logical_bytes") == f.expected.reduce(Int64(0)) { $0 + size($1.data) }, "\(s)")
        #expect(int("unique_bytes") >= size(f.expected.last!.data) - (1 << 20) && int("unique_bytes") < int("logical_bytes"))
        #expect(((s["deduplication_ratio"] as? Double) ?? 0) > 2, "three snapshots that share most of their data: \(s)")
        #expect(int("data_keys") > 0 && int("packs") > 0)
        let people = try f.run(["stats", "--region", "backup"])
        #expect(people.status == 0 && people.stdout.contains("region 'backup': 3 snapshot(s)"), "\(people.all)")
    }
}
