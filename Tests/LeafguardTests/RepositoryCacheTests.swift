import Foundation
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafRepository
import LeafTestSupport
import Logging
import Testing

/// A Deployment opens each region's repository once and keeps it while the keyring it was
/// opened under is in use (issue 18, point 2); a key rotation in the same run opens it anew.
@Suite struct RepositoryCacheTests {
    /// A run of backup, rotate-keys, backup in one process: the second backup's new data keys
    /// are wrapped by the new active version, not by the version the kept repository was
    /// opened with, and every data key of the region ends under it.
    @Test func aRotationInTheSameRunOpensTheRepositoryAnew() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/turn.yml", "name: turn\nsteps: [backup, {rotate-keys: {grace_days: 0}}, backup]\n")
        let config = try ConfigLoader.load(path: d.config)
        let deployment = Deployment(config: config)
        let before = try deployment.repository("primary", create: true)
        #expect(try deployment.repository("primary") === before, "kept, not opened again")
        #expect(before.master.version == 1)

        // A document the first backup does not hold, so the second seals new data.
        try d.dir.write("planner-data/documents/after-rotation.txt", String(repeating: "new data after the rotation\n", count: 4000))
        let job = try #require(try JobLoader(config: config).load(files: [d.dir.file("jobs/turn.yml")]).first)
        let result = JobRunner(config: config, logger: Logger(label: "test"), deployment: deployment).run(job)
        #expect(result.succeeded, "\(result.steps.map(\.summary))")

        let after = try deployment.repository("primary")
        #expect(after !== before && after.master.version == 2)
        #expect(try deployment.repository("primary") === after)
        let census = try after.keyCensus()
        #expect(census.byVersion[1] == nil && (census.byVersion[2] ?? 0) > 0, "\(census)")
        #expect(try after.snapshots().count == 2)
    }
}
