import Foundation
import LeafConfig
import LeafDeployment
import LeafTestSupport
import Testing

@testable import LeafRepository

/// Stale locks with a way out (issue 30, point 1): `unlock` removes the locks whose holder
/// is gone on this host and those past the stale time, names a live holder and keeps it,
/// and removes another host's fresh lock only with --force, confirmed (--yes for scripts).
@Suite struct UnlockTests {
    func rows(_ r: CommandOutput) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
    }

    @Test func unlockRemovesWhatIsGoneAndNamesWhatIsHeld() throws {
        let f = try DisasterFixture()
        let repo = try Deployment(config: try ConfigLoader.load(path: f.config)).repository("primary")
        // A dead holder of this host (pid 1 with another start time: a reused pid), a live
        // one (this test process), a fresh lock of another host, and a stale one of it.
        try RegionLock.plant(.shared, pid: 1, start: 12345, in: repo)
        try RegionLock.plant(.shared, pid: getpid(), start: ProcessIdentity.startTime(of: getpid()), in: repo)
        try RegionLock.plant(.exclusive, pid: 4242, start: nil, in: repo, host: "otherhost")
        try RegionLock.plant(.shared, pid: 4343, start: nil, in: repo, now: Date().addingTimeInterval(-7 * 3600), host: "otherhost")
        #expect(try RegionLock.held(in: repo).count == 4)

        let first = try f.run(["unlock", "--json"])
        #expect(first.status == 1, "a lock is still held: \(first.all)")
        let actions = Dictionary(
            uniqueKeysWithValues: try rows(first).compactMap { r -> (String, String)? in
                guard let host = r["host"] as? String, let pid = r["pid"] as? Int, let action = r["action"] as? String else { return nil }
                return ("\(host == "otherhost" ? "other" : "here"):\(pid)", action)
            })
        #expect(actions == ["here:1": "removed", "here:\(getpid())": "kept", "other:4242": "kept", "other:4343": "removed"], "\(first.all)")
        #expect(try RegionLock.held(in: repo).count == 2)

        // Another host's fresh lock: --force asks first; with no terminal, it needs --yes.
        let asked = try f.run(["unlock", "--force"])
        #expect(asked.status == 2 && asked.stderr.contains("confirm with --yes") && asked.stderr.contains("otherhost"), "\(asked.all)")
        #expect(try RegionLock.held(in: repo).count == 2, "nothing removed without the confirmation")
        let forced = try f.run(["unlock", "--force", "--yes"])
        #expect(forced.status == 1 && forced.stdout.contains("removed exclusive lock of otherhost pid 4242"), "\(forced.all)")
        #expect(forced.stdout.contains("kept shared lock") && forced.stdout.contains("held by a running process"), "\(forced.all)")
        let left = try RegionLock.held(in: repo)
        #expect(left.count == 1 && left.first?.pid == getpid())
        let audit = try f.run(["audit", "show", "--json"])
        #expect(audit.stdout.contains("lock.remove"), "the removals are audited")
        // The live holder gone too: nothing left, exit 0.
        _ = RegionLock.remove(try #require(left.first).name, in: repo)
        let clean = try f.run(["unlock"])
        #expect(clean.status == 0 && clean.stdout.contains("no region holds a lock"), "\(clean.all)")
    }
}
