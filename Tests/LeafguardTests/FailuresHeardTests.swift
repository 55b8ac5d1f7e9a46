import Foundation
import LeafConfig
import LeafScheduler
import LeafTestSupport
import Logging
import Testing

/// Backups never stop silently: a broken file stops only itself, a warning is its own
/// outcome, a stopped run says so, a dead scheduler is noticed, exit codes are as documented.
@Suite struct FailuresHeardTests {
    func metrics(_ d: DeploymentFixture) throws -> String {
        try String(contentsOfFile: d.dir.file("state/metrics/leafguard.prom"), encoding: .utf8)
    }

    @Test func aBrokenJobFileStopsOnlyItself() throws {
        let d = try DeploymentFixture()
        try d.markDrillCopy()
        try d.dir.write("jobs/broken.yml", "name: broken\nsteps: [bakup]\n")
        try d.dir.write("jobs/every-minute.yml", "name: every-minute\nschedule: \"* * * * *\"\nsteps: [backup]\n")
        let run = try leafguard(["run", "backup-only", "--config", d.config])
        #expect(run.status == 0 && run.stderr.contains("broken.yml"), "\(run.all)")
        // Its own file broken: that job does not run, and says why.
        let itself = try leafguard(["run", "broken", "--config", d.config])
        #expect(itself.status == 2 && itself.stderr.contains("bakup"), "\(itself.all)")
        // tick runs every valid job, names the broken file, counts it, and exits 2.
        let t0 = "2026-12-01T10:00:00Z"
        let t1 = "2026-12-01T10:02:00Z"
        _ = try leafguard(["tick", "--now", t0, "--config", d.config])
        let tick = try leafguard(["tick", "--now", t1, "--config", d.config])
        #expect(tick.status == 2 && tick.stderr.contains("broken.yml"), "\(tick.all)")
        let history = try leafguard(["history", "every-minute", "--json", "--config", d.config])
        #expect(history.stdout.contains("succeeded"), "the valid scheduled job ran: \(history.all)")
        let text = try metrics(d)
        #expect(text.contains("leafguard_job_file_errors 1") && text.contains("leafguard_tick_last_seconds "), "\(text)")
    }

    /// A document that could not be stored: the run is `warned` (exit 3), on_warning fires,
    /// on_success does not (unless a hook asks), and history, metrics and the report count it.
    @Test func aWarningIsItsOwnOutcome() throws {
        let d = try DeploymentFixture()
        let doc = try #require(filesBelow(d.dir.file("planner-data/documents")).first)
        try Data("altered".utf8).write(to: URL(fileURLWithPath: d.dir.file("planner-data/documents/" + doc)))
        try d.dir.write(
            "jobs/hooked.yml",
            """
            name: hooked
            steps: [backup]
            on_success:
              - {command: "touch \(d.dir.file("success-fired"))"}
              - {command: "touch \(d.dir.file("success-on-warning-fired"))", on: [success, warning]}
            on_warning:
              - {command: "touch \(d.dir.file("warning-fired"))"}
            """)
        let r = try leafguard(["run", "hooked", "--config", d.config])
        #expect(r.status == 3, "\(r.all)")
        // One outcome, told the same everywhere (issue 30, point 3): the header says warned,
        // and a restore's headline counts the document that did not match.
        #expect(r.stdout.contains(": warned in") && !r.stdout.contains(": succeeded in"), "\(r.all)")
        let restore = try leafguard(["restore", "latest", "--to", d.dir.file("restored"), "--config", d.config])
        #expect(restore.status == 0 && restore.stdout.contains("1 document(s) did NOT match the planner's record"), "\(restore.all)")
        #expect(FileManager.default.fileExists(atPath: d.dir.file("warning-fired")))
        #expect(FileManager.default.fileExists(atPath: d.dir.file("success-on-warning-fired")))
        #expect(!FileManager.default.fileExists(atPath: d.dir.file("success-fired")))
        let history = try leafguard(["history", "hooked", "--json", "--config", d.config])
        #expect(history.stdout.contains("\"warned\""), "\(history.all)")
        // One JSON style (issue 30, point 7): snake_case keys, dates in UTC with Z.
        #expect(history.stdout.contains("\"dry_run\"") && !history.stdout.contains("\"dryRun\""), "\(history.all)")
        #expect(history.stdout.contains("Z\""), "\(history.all)")
        let text = try metrics(d)
        #expect(
            text.contains("leafguard_job_last_outcome{job=\"hooked\",outcome=\"warned\"} 1")
                && text.contains("leafguard_job_last_succeeded{job=\"hooked\"} 0"), "\(text)")
        // A warned run is no success for the alert on "no success for 26 h" (issue 30, point 6).
        #expect(!text.contains("leafguard_job_last_success_timestamp_seconds{job=\"hooked\"}"), "\(text)")
        let report = try leafguard(["report", "--format", "json", "--out", d.dir.file("report"), "--config", d.config])
        #expect(report.status <= 1)
        let json = try String(contentsOfFile: d.dir.file("report/posture.json"), encoding: .utf8)
        #expect(json.contains("warned_runs") && json.contains("ended with warnings"), "the runner promise counts warned runs")
    }

    /// A posture verdict cites the step that caused it (issue 30, point 3): a run whose
    /// backup step warned while its verify step passed made the sharding promise 'fail:
    /// the last verify … warned'.
    @Test func theShardingVerdictIsTheVerifyStepsOwn() throws {
        let d = try DeploymentFixture()
        let doc = try #require(filesBelow(d.dir.file("planner-data/documents")).first)
        try Data("altered".utf8).write(to: URL(fileURLWithPath: d.dir.file("planner-data/documents/" + doc)))
        try d.dir.write("jobs/checked.yml", "name: checked\nsteps: [backup, {verify: {read_data: 100}}]\n")
        let run = try leafguard(["run", "checked", "--config", d.config])
        #expect(run.status == 3 && run.stdout.contains("[ok  ] verify"), "\(run.all)")
        _ = try leafguard(["report", "--format", "json", "--out", d.dir.file("report"), "--config", d.config])
        let posture = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d.dir.file("report/posture.json")))) as? [String: Any])
        let promises = try #require(posture["promises"] as? [[String: Any]])
        let sharding = try #require(promises.first { $0["id"] as? String == "sharding" })
        let reasons = (sharding["reasons"] as? [String]) ?? []
        #expect(sharding["verdict"] as? String != "fail" && !reasons.contains { $0.contains("verify") }, "\(sharding)")
    }

    /// Metrics that can alert from install on (issue 30, point 6): `init` writes the file with
    /// leafguard_tick_last_seconds 0 (it was absent until the first tick, so the documented
    /// alert stayed silent), and a job whose file is removed loses its series.
    @Test func metricsArePresentFromInstallAndFollowTheJobFiles() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["init", "--config", d.config]).status == 0)
        let fresh = try metrics(d)
        #expect(fresh.contains("\nleafguard_tick_last_seconds 0\n"), "\(fresh)")
        try d.dir.write("jobs/gone-soon.yml", "name: gone-soon\nsteps: [backup]\n")
        #expect(try leafguard(["run", "gone-soon", "--config", d.config]).status == 0)
        #expect(try metrics(d).contains("job=\"gone-soon\""))
        try FileManager.default.removeItem(atPath: d.dir.file("jobs/gone-soon.yml"))
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        let after = try metrics(d)
        #expect(!after.contains("gone-soon") && after.contains("job=\"backup-only\""), "\(after)")
    }

    /// tick's exit status is its runs' outcome (issue 30, point 3): 3 when runs warned and
    /// none failed, not 1 (cron mailed "failed" for a warned run); 1 when one failed.
    @Test func tickExitsThreeWhenItsRunsOnlyWarned() throws {
        let d = try DeploymentFixture()
        try d.markDrillCopy()
        let doc = try #require(filesBelow(d.dir.file("planner-data/documents")).first)
        try Data("altered".utf8).write(to: URL(fileURLWithPath: d.dir.file("planner-data/documents/" + doc)))
        try d.dir.write("jobs/every-minute.yml", "name: every-minute\nschedule: \"* * * * *\"\nsteps: [backup]\n")
        _ = try leafguard(["tick", "--now", "2026-12-01T10:00:00Z", "--config", d.config])
        let tick = try leafguard(["tick", "--now", "2026-12-01T10:02:00Z", "--config", d.config])
        #expect(tick.status == 3, "\(tick.all)")
        let history = try leafguard(["history", "every-minute", "--json", "--config", d.config])
        #expect(history.stdout.contains("\"warned\"") && !history.stdout.contains("\"failed\""), "\(history.all)")
        try d.dir.write("jobs/failing.yml", "name: failing\nschedule: \"* * * * *\"\nsteps: [{replicate: {to: backup}}, {verify: {read_data: 200}}]\n")
        let both = try leafguard(["tick", "--now", "2026-12-01T10:04:00Z", "--config", d.config])
        #expect(both.status == 1 || both.status == 2, "a failed or invalid run is still a failure: \(both.all)")
    }

    /// A hook that exits without reading its summary: leafguard goes on to the next hook
    /// (it was killed by SIGPIPE in the middle of its hooks, exit status 13, seen in CI).
    /// 4 MiB of input cannot fit the pipe, so the write always meets a closed pipe.
    @Test func aHookThatIgnoresItsInputDoesNotKillTheRun() throws {
        let dir = TemporaryDirectory()
        let runner = HookRunner(logger: Logger(label: "test"))
        let lines = runner.run(
            [
                Hook(action: .command("exit 0")),
                Hook(action: .command("touch \(dir.file("second-ran"))")),
            ],
            summary: Data(repeating: 0x41, count: 4 << 20), environment: [:])
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasSuffix(": ok") }, "\(lines)")
        #expect(FileManager.default.fileExists(atPath: dir.file("second-ran")))
    }

    /// SIGINT or SIGTERM during a backup: `interrupted` recorded at once (no later run
    /// needed), one line says so, on_failure fires, and the next run reuses the work.
    @Test(arguments: [SIGINT, SIGTERM]) func aStoppedRunSaysSo(signal: Int32) throws {
        let d = try DeploymentFixture()
        try addDocument(to: d, megabytes: 24)
        try d.dir.write("jobs/hooked.yml", "name: hooked\nsteps: [backup]\non_failure:\n  - {command: \"touch \(d.dir.file("failure-fired"))\"}\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: leafguardExecutable)
        p.arguments = ["run", "hooked", "--config", d.config]
        // Debug builds: the run stops in the middle of its first pack until the signal comes.
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_STALL_AFTER_SHARDS"] = "3"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Wait until three shards of its first pack are stored, then stop it.
        waitUntil(timeout: 30) { filesBelow(d.dir.file("regions/primary")).filter({ $0.contains("/data/") }).count >= 3 }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let history = try leafguard(["history", "hooked", "--json", "--config", d.config]).stdout
        #expect(p.terminationStatus == 128 + signal, "\(p.terminationStatus): \(stderr)")
        #expect(stderr.contains("interrupted") && stderr.contains("next run reuses"), "\(stderr)")
        #expect(history.contains("interrupted") && !history.contains("running"), "\(history)")
        #expect(FileManager.default.fileExists(atPath: d.dir.file("failure-fired")))
        let next = try leafguard(["run", "hooked", "--config", d.config])
        #expect(next.status == 0, "\(next.all)")
    }

    /// No tick for an hour (a removed crontab): the job is overdue in jobs list, the metrics
    /// and the posture report.
    @Test func aDeadSchedulerIsNoticed() throws {
        let d = try DeploymentFixture()
        try d.markDrillCopy()
        try d.dir.write("jobs/hourly.yml", "name: hourly\nschedule: \"0 * * * *\"\nsteps: [backup]\n")
        let start = "2026-12-01T10:30:00Z"
        #expect(try leafguard(["tick", "--now", start, "--config", d.config]).status == 0)
        // An hour and a half later, ticks stopped: the 11:00 and 12:00 fire times passed unseen.
        let list = try leafguard(["jobs", "list", "--config", d.config])
        #expect(list.stdout.contains("OVERDUE"), "\(list.all)")
        let json = try leafguard(["jobs", "list", "--json", "--config", d.config]).stdout
        #expect(json.contains("\"overdue_since\""), "\(json)")
        let report = try leafguard(["report", "--format", "json", "--out", d.dir.file("report"), "--config", d.config])
        #expect(report.status <= 1)
        let posture = try String(contentsOfFile: d.dir.file("report/posture.json"), encoding: .utf8)
        #expect(posture.contains("the scheduler has stopped"), "the posture report says the tick is stale")
        // A tick now catches up and the job is no longer overdue.
        #expect(try leafguard(["tick", "--config", d.config]).status == 0)
        #expect(try metrics(d).contains("leafguard_job_overdue{job=\"hourly\"} 0"))
    }

    /// The documented exit codes, through the CLI.
    @Test func exitCodesAreAsDocumented() throws {
        let d = try DeploymentFixture()
        #expect(try leafguard(["run", "backup-only", "--config", d.config]).status == 0)
        #expect(try leafguard(["restore", "latest", "--region", "nowhere", "--to", d.dir.file("x"), "--config", d.config]).status == 2)
        #expect(try leafguard(["snapshots", "list", "--region", "nowhere", "--config", d.config]).status == 2)
        try d.dir.write("full/file", "x")
        #expect(try leafguard(["restore", "latest", "--to", d.dir.file("full"), "--config", d.config]).status == 2)
        let unknown = try leafguard(["frobnicate", "--config", d.config])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown command 'frobnicate'"), "\(unknown.all)")
        let env = try String(contentsOfFile: d.config, encoding: .utf8).replacingOccurrences(of: "file:keys/master.key", with: "env:LG_UNSET_KEY_VARIABLE")
        try d.dir.write("leafguard.yml", env)
        let unset = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(unset.status == 2 && unset.stderr.contains("LG_UNSET_KEY_VARIABLE is not set"), "\(unset.all)")
    }
}
