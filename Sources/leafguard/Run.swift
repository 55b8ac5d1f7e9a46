import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs
import LeafScheduler
import LeafTime
import Logging

extension Leafguard {
    /// `leafguard run JOB [--dry-run]`: runs one job now, under its lock, recorded in history.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one job now, step by step, stopping at the first failed step.",
            discussion:
                "The run takes the job's lock and is recorded in the history like a scheduled run. Exit status: 0 succeeded, 1 failed, 2 bad usage or configuration, 3 succeeded with warnings (a step warned: read its details), 75 the job is already running (concurrency: forbid), 124 stopped by the job's timeout."
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The job's name (see 'leafguard jobs list').")
        var job: String

        @Flag(help: "Check the job and say what each step would do, changing nothing.")
        var dryRun = false

        // Set by `leafguard tick` (ProcessRunLauncher): the run's ScheduledRun is on standard input.
        @Flag(help: .hidden) var scheduled = false

        @Option(help: "Act as if it were this instant (ISO 8601); only in a drill copy (drill_copy: true in leafguard.yml).")
        var now: String?

        @Flag(help: "Print the run as JSON (the history's record: outcome, steps, figures).") var json = false

        func validate() throws {
            if let now, parseInstant(now) == nil { throw ValidationError("--now '\(now)' is not ISO 8601") }
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let definition = try findJob(job, config: config)
            var request = RunRequest(job: definition, dryRun: dryRun)
            var clock = Clock(now: now.flatMap(parseInstant))
            if scheduled {
                let planned = try ScheduledRun.decode(FileHandle.standardInput.readToEnd() ?? Data())
                guard planned.job == job else { throw CommandFailure("the scheduled run on standard input is for job \(planned.job), not \(job)", status: 2) }
                request = planned.request(for: definition)
                request.dryRun = dryRun
                clock = Clock(now: planned.now)
            }
            try refuseNowOutsideDrills(now, dryRun: dryRun, config: config)
            try executeRun(request, config: config, logger: logger, clock: clock, json: json)
        }
    }
}

/// `--now` dates runs and snapshots by another clock than the host's: refused on anything
/// that writes unless leafguard.yml says the deployment is a drill copy (`drill_copy: true`).
func refuseNowOutsideDrills(_ now: String?, dryRun: Bool, config: LeafguardConfig) throws {
    guard now != nil, !dryRun, !config.drillCopy else { return }
    throw CommandFailure(
        "--now is refused: it would date runs and snapshots by another clock than this host's, and skew 'latest' and the "
            + "recovery point of a real deployment. Drill with a copy of the deployment whose leafguard.yml says 'drill_copy: true' "
            + "(see docs/operations.md), or use --dry-run",
        status: 2)
}

/// Runs `request` under the supervisor (the job's lock, the history, the audit log, signals)
/// and prints it, for people or as JSON (the history's run record with its steps). Exit
/// status as `run` documents it.
func executeRun(_ request: RunRequest, config: LeafguardConfig, logger: Logger, clock: Clock, json: Bool) throws {
    let supervisor = RunSupervisor(config: config, logger: logger, clock: clock)
    switch try supervisor.execute(request) {
    case .ran(let record, let result):
        if json { print(try jsonString(RunSummary(record))) } else { printRun(result, runID: record.id) }
        if !result.succeeded { throw ExitCode(1) }
        if result.warned { throw ExitCode(3) }
    case .busy(let holder):
        throw CommandFailure(
            "job \(request.job.name) is already running (\(holder?.description ?? "holder unknown")); its concurrency policy is forbid", status: 75)
    case .alreadyClaimed:
        print("job \(request.job.name): this run was already started by another leafguard process")
    }
}

/// The job named `name`, or a configuration error listing the jobs. Another job file in
/// error does not stop it (a warning names that file); its own file in error does.
func findJob(_ name: String, config: LeafguardConfig) throws -> JobDefinition {
    let (jobs, problems) = try JobLoader(config: config).loadValid()
    guard let definition = jobs.first(where: { $0.name == name }) else {
        // Its own file may be among the broken ones: those problems say why.
        if !problems.isEmpty { throw ConfigurationError(problems) }
        throw ConfigurationError(
            file: config.jobsDirectory, message: "no job named '\(name)'",
            hint: "jobs: \(jobs.map(\.name).joined(separator: ", "))")
    }
    for p in problems { printError("warning: another job file is in error and does not run: \(p)") }
    return definition
}
