import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs
import LeafScheduler
import LeafTime

extension Leafguard {
    /// `leafguard run JOB [--dry-run]`: runs one job now, under its lock, recorded in history.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one job now, step by step, stopping at the first failed step.",
            discussion: "The run takes the job's lock and is recorded in the history like a scheduled run. Exit status: 0 succeeded, 1 failed, 2 bad usage or configuration, 3 succeeded with warnings (a step warned: read its details), 75 the job is already running (concurrency: forbid), 124 stopped by the job's timeout.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The job's name (see 'leafguard jobs list').")
        var job: String

        @Flag(help: "Check the job and say what each step would do, changing nothing.")
        var dryRun = false

        // Set by `leafguard tick` for the runs it starts.
        @Option(help: .hidden) var trigger: String = RunTrigger.manual.rawValue
        @Option(help: .hidden) var scheduledFor: String?
        @Option(help: .hidden) var attempt: Int = 1
        @Option(help: .hidden) var missed: Int = 0
        @Option(help: .hidden) var missedFirst: String?
        @Option(help: .hidden) var missedLast: String?
        @Option(help: .hidden) var now: String?

        func validate() throws {
            guard RunTrigger(rawValue: trigger) != nil else { throw ValidationError("unknown trigger '\(trigger)'") }
            if let now, parseInstant(now) == nil { throw ValidationError("--now '\(now)' is not ISO 8601") }
        }

        var missedFires: MissedFires? {
            guard missed > 0, let f = missedFirst.flatMap(parseInstant), let l = missedLast.flatMap(parseInstant) else { return nil }
            return MissedFires(count: missed, first: f, last: l)
        }

        func run() async throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let definition = try findJob(job, config: config)
            let supervisor = RunSupervisor(config: config, logger: logger, clock: Clock(now: now.flatMap(parseInstant)))
            let request = RunRequest(job: definition, trigger: RunTrigger(rawValue: trigger)!, scheduledFor: scheduledFor.flatMap(parseInstant),
                                     attempt: attempt, dryRun: dryRun, missed: missedFires)
            switch try await supervisor.execute(request) {
            case .ran(let record, let result):
                printRun(result, runID: record.id)
                if !result.succeeded { throw ExitCode(1) }
                if result.warned { throw ExitCode(3) }
            case .busy(let holder):
                throw CommandFailure("job \(job) is already running (\(holder?.description ?? "holder unknown")); its concurrency policy is forbid", status: 75)
            case .alreadyClaimed:
                print("job \(job): this run was already started by another leafguard process")
            }
        }
    }
}

/// The job named `name`, or a configuration error listing the jobs. Another job file in
/// error does not stop it (a warning names that file); its own file in error does.
func findJob(_ name: String, config: LeafguardConfig) throws -> JobDefinition {
    let (jobs, problems) = try JobLoader(config: config).loadValid()
    guard let definition = jobs.first(where: { $0.name == name }) else {
        // Its own file may be among the broken ones: those problems say why.
        if !problems.isEmpty { throw ConfigurationError(problems) }
        throw ConfigurationError(file: config.jobsDirectory, message: "no job named '\(name)'",
                                 hint: "jobs: \(jobs.map(\.name).joined(separator: ", "))")
    }
    for p in problems { printError("warning: another job file is in error and does not run: \(p)") }
    return definition
}
