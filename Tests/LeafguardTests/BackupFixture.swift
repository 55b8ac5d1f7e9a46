import Foundation
import LeafBackup
import LeafDemo
import LeafKeys
import LeafRepository
import LeafSodium
import LeafStorage
import LeafTestSupport

/// A repository in a temporary folder with six local locations, and a copy of the shared data.
final class BackupFixture: @unchecked Sendable {
    let dir = TemporaryDirectory("leafguard-backup")
    let master: MasterKey
    var dataDirectory: String { dir.file("planner-data") }
    var locationCount = 6

    init() throws {
        master = MasterKey(version: 1, secret: try SecureBytes.random(count: 32))
        let r = try runCommand("/bin/cp", ["-a", SharedPlannerData.path, dataDirectory])
        precondition(r.status == 0, r.stderr)
    }

    func locationRoot(_ i: Int, region: String = "primary") -> String { dir.file("regions/\(region)/loc\(i)") }

    func locations(region: String = "primary", count: Int? = nil) -> [any ObjectStore] {
        (0..<(count ?? locationCount)).map { LocalStore(name: "\(region)/loc\($0)", root: locationRoot($0, region: region)) }
    }

    func repository(create: Bool = true, key: MasterKey? = nil) throws -> Repository {
        try Repository.open(region: "primary", locations: locations(), master: key ?? master, create: create)
    }

    func options() -> BackupOptions {
        var o = BackupOptions(scratchDirectory: dir.file("state/tmp"))
        o.packSize = 1 << 20
        return o
    }

    @discardableResult
    func backup(_ configure: (inout BackupOptions) -> Void = { _ in }) throws -> BackupResult {
        var o = options()
        configure(&o)
        return try Backup(repository: try repository(), dataDirectory: dataDirectory, options: o).run()
    }

    /// Restores a snapshot of `from` (default: the primary region) into `name` under the test folder.
    func restore(
        _ snapshot: String = "latest", into name: String = "restored", force: Bool = false,
        from: Repository? = nil
    ) throws -> RestoreResult {
        let repo = try from ?? repository(create: false)
        return try Restore(repository: repo).run(try repo.resolveSnapshot(snapshot), to: dir.file(name), force: force)
    }

    /// Every stored file of the region, relative to the region folder.
    func storedFiles() -> [String] { filesBelow(dir.file("regions/primary")) }

    /// The shard files of the region.
    func shardFiles() -> [String] { storedFiles().filter { $0.contains("/data/") } }
}
