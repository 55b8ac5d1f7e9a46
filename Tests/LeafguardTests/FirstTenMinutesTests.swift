import Foundation
import LeafConfig
import LeafTestSupport
import Testing

/// The stumbles of a newcomer's first ten minutes (issue 28, point 4).
@Suite struct FirstTenMinutesTests {
    /// `leafguard snapshots --config FILE`: the group names its subcommands, and the
    /// command the newcomer meant, instead of "Unknown option '--config'".
    @Test func aCommandGroupGivenAnOptionNamesItsSubcommands() throws {
        let d = try DeploymentFixture()
        let r = try leafguard(["snapshots", "--config", d.config])
        #expect(r.status == 2, "\(r.all)")
        #expect(!r.stderr.contains("Unknown option"), "\(r.all)")
        #expect(r.stderr.contains("'leafguard snapshots' is a group of commands"), "\(r.all)")
        #expect(r.stderr.contains("subcommands: list"), "\(r.all)")
        #expect(r.stderr.contains("e.g. 'leafguard snapshots list --config \(d.config)'"), "\(r.all)")
        // Nested groups and unknown words alike; every group's own help still works.
        let keys = try leafguard(["keys", "--json"])
        #expect(keys.status == 2 && keys.stderr.contains("'leafguard keys' is a group of commands") && keys.stderr.contains("rotate"), "\(keys.all)")
        let audit = try leafguard(["audit", "verfy"])
        #expect(audit.status == 2 && audit.stderr.contains("'verfy', which is not one of its subcommands"), "\(audit.all)")
        let help = try leafguard(["snapshots", "--help"])
        #expect(help.status == 0 && help.stdout.contains("list"), "\(help.all)")
        // A subcommand's own options are untouched.
        let list = try leafguard(["jobs", "list", "--config", d.config])
        #expect(list.status == 0, "\(list.all)")
    }

    /// `snapshots list` and `restore` on a region that lost its repository give the rebuild
    /// advice a backup's refusal gives, never 'leafguard init' (which then refuses).
    @Test func aLostRegionIsNamedWithItsRebuildByReadingCommands() throws {
        let f = try DisasterFixture()
        try FileManager.default.removeItem(atPath: f.file("regions/primary"))
        let refusal = try f.run(["run", "nightly"])
        #expect(refusal.all.contains("leafguard replicate --from backup --to primary"), "\(refusal.all)")
        for command in [["snapshots", "list"], ["restore", "latest", "--to", f.file("restored")]] {
            let r = try f.run(command)
            #expect(r.status == 1, "\(command): \(r.all)")
            #expect(r.stderr.contains("leafguard replicate --from backup --to primary"), "\(command): \(r.all)")
            #expect(!r.stderr.contains("leafguard init"), "\(command): \(r.all)")
        }
        #expect(filesBelow(f.file("regions/primary")).isEmpty, "reading wrote nothing into the lost region")
        let initialize = try f.run(["init"])
        #expect(initialize.status != 0, "init is refused, as the advice no longer suggests it")
    }

    /// A configuration loaded by a relative path (as `make fuzz` seeds its corpus): every
    /// path in it is relative to its folder, which is relative to the working folder; and
    /// no link on the way is resolved (`restore --to LINK` must still see the link).
    @Test func pathsAreMadeAbsoluteByTheirTextAlone() throws {
        let cwd = FileManager.default.currentDirectoryPath
        #expect(absolute("keys/master.key", relativeTo: "work/deployment") == cwd + "/work/deployment/keys/master.key")
        #expect(absolute("../x/./y", relativeTo: "/srv/a") == "/srv/x/y")
        #expect(absolute("/etc//leafguard/", relativeTo: "/ignored") == "/etc/leafguard")
        let dir = TemporaryDirectory("leafguard-paths")
        try FileManager.default.createDirectory(atPath: dir.file("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("link"), withDestinationPath: dir.file("real"))
        #expect(absolute("link", relativeTo: dir.path) == dir.file("link"))
    }
}
