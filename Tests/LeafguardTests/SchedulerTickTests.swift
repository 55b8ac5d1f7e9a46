import Foundation
import LeafConcurrency
import LeafConfig
import LeafScheduler
import LeafTestSupport
import LeafTime
import Logging
import Testing

/// The scheduler as a library call, `Scheduler.tick(now:)`, with its runs in this process
/// (SupervisorRunLauncher) or only recorded: catch-up, `after` dependencies and the typed
/// request a tick hands its runs. SchedulerProcessTests keeps what needs real processes
/// (overlapping ticks, killed holders, timeouts, signals).
@Suite struct SchedulerTickTests {
    /// A launcher that runs nothing: it keeps what it was asked and answers `status`.
    final class RecordingLauncher: RunLauncher {
        let runs = Locked<[ScheduledRun]>([])
        let status: Int32
        init(status: Int32 = 0) { self.status = status }
        func launch(_ run: ScheduledRun) -> Int32 {
            runs.withLock { $0.append(run) }
            return status
        }
    }

    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func deployment() throws -> (DeploymentFixture, LeafguardConfig) {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nschedule: \"30 2 * * *\"\ntimezone: UTC\nsteps: [backup]\n")
        return (d, try ConfigLoader.load(path: d.config))
    }

    func at(_ text: String) -> Date { Timestamp.parse(text)! }

    func inProcess(_ config: LeafguardConfig) -> Scheduler {
        Scheduler(config: config, logger: Self.quiet, launcher: SupervisorRunLauncher(config: config, logger: Self.quiet))
    }

    func finished(_ report: TickReport) -> [String] {
        report.events.compactMap {
            if case .finished(let job, let status) = $0 { return "\(job) \(status)" }; return nil
        }
    }

    @Test func downtimeOfThreeDaysUnderEachCatchUpPolicy() throws {
        let (d, config) = try deployment()
        try d.dir.write("jobs/seal.yml", "name: seal\nschedule: \"0 * * * *\"\ncatch_up: none\nsteps: [backup]\n")
        let scheduler = inProcess(config)
        #expect(finished(try scheduler.tick(now: at("2026-03-01T12:00:30Z"))).isEmpty)
        let report = try scheduler.tick(now: at("2026-03-04T12:30:00Z"))
        #expect(finished(report) == ["nightly 0"])
        #expect(
            report.events.contains {
                if case .missed("seal", 72, let why) = $0 { return why.contains("catch_up: none") }; return false
            },
            "\(report.events)")
        let catalog = try RunCatalog(stateDirectory: config.stateDirectory)
        let nightly = try catalog.history(job: "nightly")
        try #require(nightly.map(\.outcome) == [.succeeded, .missed])
        #expect(nightly[0].trigger == .catchUp && nightly[1].summary.hasPrefix("2 runs"))
        #expect(nightly[0].scheduledFor == at("2026-03-04T02:30:00Z"))
        let seal = try catalog.history(job: "seal")
        try #require(seal.map(\.outcome) == [.missed])
        #expect(seal[0].summary.hasPrefix("72 runs") && seal[0].summary.contains("catch_up: none"), "\(seal[0].summary)")
    }

    @Test func afterRunsTheDependentJobInTheSameTick() throws {
        let (d, config) = try deployment()
        try d.dir.write("jobs/check.yml", "name: check\nafter: [nightly]\nsteps: [{verify: {read_data: 100}}]\n")
        let scheduler = inProcess(config)
        #expect(finished(try scheduler.tick(now: at("2026-03-01T00:00:00Z"))).isEmpty)
        // Two passes of one tick: nightly first, then check, which waited for it.
        #expect(finished(try scheduler.tick(now: at("2026-03-01T02:30:10Z"))) == ["nightly 0", "check 0"])
        let c = try RunCatalog(stateDirectory: config.stateDirectory)
        let nightly = try #require(try c.lastSuccess(job: "nightly"))
        let check = try #require(try c.lastSuccess(job: "check"))
        #expect(check.trigger == .after && check.started >= nightly.finished!)
        // Nothing new from nightly: check does not run again.
        #expect(finished(try scheduler.tick(now: at("2026-03-01T02:40:00Z"))).isEmpty)
        #expect(try c.history(job: "check").count == 1)
    }

    /// What the launcher is handed is the tick's decision, typed; a failed run is a failure
    /// of the tick, a busy one (75) is left due and is not, a warned one (3) is a warning.
    @Test(arguments: [(Int32(1), 1, 0), (75, 0, 0), (3, 0, 1)])
    func theLauncherGetsTheTypedDecision(status: Int32, failures: Int, warnings: Int) throws {
        let (fixture, config) = try deployment()
        defer { withExtendedLifetime(fixture) {} }  // its folder lives as long as the test
        let launcher = RecordingLauncher(status: status)
        let scheduler = Scheduler(config: config, logger: Self.quiet, launcher: launcher)
        _ = try scheduler.tick(now: at("2026-03-01T00:00:00Z"))
        #expect(launcher.runs.value.isEmpty)
        let report = try scheduler.tick(now: at("2026-03-03T02:31:00Z"))
        #expect(report.failures == failures && report.warnings == warnings)
        let runs = launcher.runs.value
        try #require(runs.count == 1)
        #expect(runs[0].job == "nightly" && runs[0].trigger == .catchUp && runs[0].attempt == 1)
        #expect(runs[0].scheduledFor == at("2026-03-03T02:30:00Z"))
        #expect(runs[0].missed == MissedFires(count: 2, first: at("2026-03-01T02:30:00Z"), last: at("2026-03-02T02:30:00Z")))
        #expect(abs(runs[0].now.timeIntervalSince(at("2026-03-03T02:31:00Z"))) < 60)
    }

    /// The wire form keeps every instant exactly (a claimed fire time must compare equal in
    /// the child), and anything else on standard input is a clear error.
    @Test func theScheduledRunSurvivesTheWireAndJunkIsRefused() throws {
        let planned = PlannedRun(
            trigger: .retry, scheduledFor: Date(timeIntervalSince1970: 1_772_332_200.123456789), attempt: 3,
            missed: [Date(timeIntervalSince1970: 1_772_000_000.5), Date(timeIntervalSince1970: 1_772_100_000.25)])
        let run = ScheduledRun(job: "nightly", planned: planned, now: Date(timeIntervalSince1970: 1_772_332_260.987654321))
        #expect(try ScheduledRun.decode(run.encoded()) == run)
        #expect(run.missed?.count == 2)
        for junk in [Data(), Data("{".utf8), Data("{\"job\": 1}".utf8), Data(repeating: 0x20, count: 70_000)] {
            #expect(throws: SchedulerError.self) { try ScheduledRun.decode(junk) }
        }
    }
}
