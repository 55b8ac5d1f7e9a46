import Foundation
import LeafRepository
import LeafTestSupport
import Testing

/// One location forces no huge allocation (issue 29, defect 2): every object kind has a
/// largest size, nothing larger is read, and a name that is not one leafguard writes is
/// reported without being read.
@Suite struct BoundedReadTests {
    /// A sparse file of `bytes` at `path` (no page of it is ever written).
    func plantSparse(_ path: String, bytes: Int) throws {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0 && ftruncate(fd, off_t(bytes)) == 0)
        close(fd)
    }

    /// A real shard replaced by a 2 GiB sparse file: restore and repair go on from the other
    /// shards, verify names the file by its size, and it is never read (it used to be read
    /// whole: 16.8 GB peak for a replication with a few of them).
    @Test(.timeLimit(.minutes(3))) func aHugeFileAtAShardNameIsRefusedByItsSize() throws {
        let f = try DisasterFixture()
        let loc0 = f.file("regions/primary/loc0")
        let shard = try #require(filesBelow(loc0 + "/data").first, "a shard in loc0")
        try plantSparse(loc0 + "/data/" + shard, bytes: 2 << 30)
        let target = f.file("restored")
        let r = try f.run(["restore", "latest", "--to", target])
        #expect(r.status == 0 && sameTree(f.expected.last!.data, target), "\(r.all)")
        let v = try f.run(["verify", "--read-data", "--region", "primary"])
        #expect(v.status == 1 && v.stdout.contains(shard) && v.stdout.contains("holds 2147483648 bytes, more than the"), "\(v.all)")
        let repair = try f.run(["verify", "--read-data", "--repair", "--region", "primary"])
        #expect(repair.status == 0, "\(repair.all)")
        try f.expectVerifyClean("after repair")
        // Replicating from the region with the planted file reads the other shards instead.
        try plantSparse(loc0 + "/data/" + shard, bytes: 2 << 30)
        try FileManager.default.removeItem(atPath: f.file("regions/backup"))
        let rebuild = try f.run(["replicate", "--from", "primary", "--to", "backup"])
        #expect(rebuild.status == 0, "\(rebuild.all)")
        try f.restoreEverySnapshot("backup rebuilt", regions: ["backup"])
    }

    /// Fifty names planted under snapshots/: half not ids at all, half ids at 2 GiB sparse
    /// files. `snapshots list` took 383 s reading them; now none is read, every listing and
    /// restore works, and verify names each as planted.
    @Test(.timeLimit(.minutes(3))) func plantedNamesAreReportedUnread() throws {
        let f = try DisasterFixture()
        let loc0 = f.file("regions/primary/loc0")
        for i in 0..<25 {
            try plantSparse(loc0 + "/snapshots/planted-\(i)", bytes: 1 << 20)
            try plantSparse(loc0 + "/snapshots/" + String(format: "ffffffff%024x", i), bytes: 2 << 30)
        }
        // A malformed name planted in two locations is no object of the region either.
        try plantSparse(f.file("regions/primary/loc1/snapshots/planted-0"), bytes: 10)
        let list = try f.run(["snapshots", "list", "--json"])
        #expect(list.status == 0 && !list.stdout.contains("planted") && !list.stdout.contains("ffffffff0000"), "\(list.all)")
        let r = try f.run(["restore", "latest", "--to", f.file("restored")])
        #expect(r.status == 0 && sameTree(f.expected.last!.data, f.file("restored")), "\(r.all)")
        let v = try f.run(["verify", "--region", "primary"])
        #expect(v.stdout.contains("snapshots/planted-7") && v.stdout.contains(String(format: "snapshots/ffffffff%024x", 7)), "\(v.all)")
        #expect(v.stdout.contains("primary/loc1") && v.stdout.contains("planted"), "\(v.all)")
        let b = try f.run(["run", "nightly"])
        #expect(b.status == 0, "a backup goes on: \(b.all)")
    }

    /// The grammar and the bounds, name by name.
    @Test func everyNameLeafguardWritesHasABound() {
        let id = String(repeating: "ab", count: 16)
        for name in [
            "config", "keyring", "keys/\(id)", "keys/set-\(id)", "index/\(id)", "snapshots/\(id)", "reports/\(id)", "locks/\(id)",
            "tombstones/\(id)", "data/ab/\(id).0", "data/ab/\(id).12", "data/ab/\(id).3.repair", "heads/primary-0000000000000012",
            "heads/eu-west_2-0000000000000001", "audit/log-000000000001-000000000042", "audit/checkpoint-000000000042",
            "audit/activity/seal-00000003", "audit/audit-signing.pub",
        ] {
            #expect(ObjectNames.maximumSize(of: name) != nil, "\(name)")
        }
        for name in [
            "snapshots/planted", "snapshots/\(id)x", "snapshots/\(id.uppercased())", "data/ac/\(id).0", "data/ab/\(id)", "data/ab/\(id).x",
            "keys/\(id).tmp", "heads/-0000000000000001", "heads/primary-12", "audit/log-1-2", "audit/other", "config.bak", "../config",
        ] {
            #expect(ObjectNames.maximumSize(of: name) == nil, "\(name)")
        }
        #expect(ObjectNames.maximumSize(of: "data/ab/\(id).0")! < 2 << 30)
        #expect(ObjectNames.maximumSize(of: "keys/\(id)")! <= 64 << 10)
    }
}
