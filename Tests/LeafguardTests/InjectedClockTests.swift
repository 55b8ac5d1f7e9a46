import Foundation
import LeafBackup
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafKeys
import LeafRepository
import LeafTestSupport
import LeafTime
import Logging
import Testing

/// The repository records the time of the clock it is given, not the host's: what
/// re-encryption by age, pruning and lock staleness read can be set by a test.
@Suite struct InjectedClockTests {
    @Test func packsAreSealedAtTheRepositorysClockAndReencryptionByAgeReadsIt() throws {
        let f = try BackupFixture()
        let past = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14
        let then = try Repository.open(region: "primary", locations: f.locations(), master: f.master, create: true, clock: Clock(now: past))
        let backup = try Backup(repository: then, dataDirectory: f.dataDirectory, options: f.options()).run()
        #expect(abs(then.config.created.timeIntervalSince(past)) < 600)
        // The snapshot's time, and the id ordered by it, come from the same clock.
        #expect(abs(backup.snapshot.time.timeIntervalSince(past)) < 600, "snapshot at \(backup.snapshot.time)")
        #expect(try then.snapshots().map(\.id) == [backup.snapshot.id])
        let packs = try then.loadIndex().packs.values
        #expect(!packs.isEmpty)
        for p in packs { #expect(abs((p.sealedAt ?? 0) - past.timeIntervalSince1970) < 600, "pack \(p.id.hex) sealed at \(p.sealedAt ?? 0)") }

        // Opened today, the packs are three years old: a year's limit selects every one, and
        // the packs written anew carry today's seal time, so a second pass selects none.
        let today = try f.repository(create: false)
        let year: TimeInterval = 365 * 86400
        let first = try today.reencrypt(ReencryptSelection(olderThan: year, now: today.clock.now), dataShards: 4, parityShards: 2)
        #expect(first.packsSelected == packs.count && first.packsRewritten == packs.count, "\(first)")
        for p in try today.loadIndex().packs.values { #expect(abs((p.sealedAt ?? 0) - Date().timeIntervalSince1970) < 600) }
        let second = try today.reencrypt(ReencryptSelection(olderThan: year, now: today.clock.now), dataShards: 4, parityShards: 2)
        #expect(second.packsSelected == 0, "\(second)")
    }

    /// A run in process over a deployment opened in 2023: the run's start and end, the time
    /// its steps see, and the keyring versions a key rotation creates and retires all come
    /// from the deployment's clock (issue 18, point 6), not the host's.
    @Test func aRunsStepsAndKeyringTakeTheDeploymentsClock() throws {
        let f = try ConfigFixture()
        try f.job("rotate.yml", "name: rotate\nsteps: [{rotate-keys: {grace_days: 0}}]\n")
        let config = try f.load()
        let past = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14
        let deployment = Deployment(config: config, clock: Clock(now: past))
        let job = try #require(try JobLoader(config: config).load(files: [f.dir.file("jobs/rotate.yml")]).first)
        let result = JobRunner(config: config, logger: Logger(label: "test"), deployment: deployment).run(job)
        #expect(result.succeeded, "\(result.steps.map(\.summary))")
        #expect(abs(result.started.timeIntervalSince(past)) < 600 && abs(result.finished.timeIntervalSince(past)) < 600, "\(result.started)")
        let records = try deployment.keyring().records
        #expect(records.count == 2, "\(records)")
        for r in records { #expect(abs(r.created.timeIntervalSince(past)) < 600, "version \(r.version) created \(r.created)") }
        #expect(records.first.flatMap(\.rotated).map { abs($0.timeIntervalSince(past)) < 600 } == true)
        // The step context a caller builds without a time takes the same clock.
        let context = StepContext(
            config: config, job: "x", dryRun: true, logger: Logger(label: "test"), progress: Progress(), deployment: deployment)
        #expect(abs(context.now.timeIntervalSince(past)) < 600)
    }
}
