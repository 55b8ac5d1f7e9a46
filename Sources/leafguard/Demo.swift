import ArgumentParser
import Foundation
import LeafConfig
import LeafDemo
import LeafJobs
import LeafScheduler
import Logging

extension Leafguard {
    /// `leafguard demo`: a complete sample deployment, then every job once.
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a sample deployment (planner data, key, config, jobs) and run every job once.")

        @Option(help: "Folder for the deployment (with --data-only: the planner data folder).")
        var dir = "demo"
        @Option(help: "Number of family accounts (about 3 MB of documents each).")
        var accounts = 40
        @Option(help: "Random seed; the same seed writes the same data.")
        var seed: UInt64 = 1
        @Flag(help: "Write only the planner data (deterministic for a seed), for tests and benchmarks.")
        var dataOnly = false
        @Option(help: "Log format on standard error: human or json.")
        var logFormat: String = "human"
        @Option(help: "Least severe log level shown.")
        var logLevel: String = "error"

        func validate() throws {
            guard accounts >= 1 && accounts <= 1_000_000 else { throw ValidationError("--accounts must be between 1 and 1000000") }
        }

        func run() throws {
            LogSetup.bootstrap(format: LogFormat(rawValue: logFormat) ?? .human, level: .init(rawValue: logLevel) ?? .warning)
            let cwd = FileManager.default.currentDirectoryPath
            let directory = absolute(dir, relativeTo: cwd)
            let generator = PlannerDataGenerator(accounts: accounts, seed: seed)
            let t0 = Date()
            if dataOnly {
                if FileManager.default.fileExists(atPath: directory + "/planner.db") {
                    throw CommandFailure("\(directory) already holds planner data; choose an empty --dir", status: 2)
                }
                let d = try generator.generate(into: directory)
                print(
                    "planner data in \(directory): \(d.accounts) accounts, \(d.users) users, \(d.documents) documents "
                        + "(\(Progress.format(d.documentBytes, unit: "B"))), \(d.activityRows) activity rows, "
                        + "database \(Progress.format(d.databaseBytes, unit: "B")), in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
                return
            }
            let outcome = try DemoDeployment(directory: directory, generator: generator).create()
            print("leafguard demo deployment in \(directory)")
            if let d = outcome.data {
                print(
                    "  planner data: \(d.accounts) accounts, \(d.users) users, \(d.documents) documents (\(Progress.format(d.documentBytes, unit: "B"))), "
                        + "\(d.activityRows) activity rows, database \(Progress.format(d.databaseBytes, unit: "B"))")
            } else {
                print("  planner data: kept the existing data in \(directory)/planner-data")
            }
            print("  master key:   \(directory)/keys/master.key (\(outcome.createdKey ? "new" : "kept"), mode 0600; losing it loses every backup)")
            print("  config:       \(outcome.configFile)")
            print("")
            let logger = LogSetupLogger.make()
            let config = try ConfigLoader.load(path: outcome.configFile)
            // Jobs that take snapshots first, so the others have data to work on.
            let jobs = try JobLoader(config: config).loadAll().sorted { a, b in
                let ab = a.steps.contains { $0 is BackupStep }
                let bb = b.steps.contains { $0 is BackupStep }
                return ab != bb ? ab : a.name < b.name
            }
            var failed = false
            let supervisor = RunSupervisor(config: config, logger: logger)
            for job in jobs {
                guard case .ran(let record, let result) = try supervisor.execute(RunRequest(job: job)) else {
                    print("job \(job.name): already running elsewhere; not run"); failed = true; continue
                }
                printRun(result, runID: record.id)
                print("")
                if !result.succeeded && !result.onlyUnavailable { failed = true }
            }
            print("Results:")
            print("  snapshots:    leafguard snapshots list --config \(outcome.configFile)")
            print("  restore:      leafguard restore latest --to /tmp/restored --config \(outcome.configFile)")
            print("  history:      leafguard history --config \(outcome.configFile)")
            print(
                "  regions:      \(config.regions.map { r -> String in if case .local(let p) = r.backend { return p }; return r.name + " (s3)" }.joined(separator: ", "))"
            )
            if failed { throw ExitCode(1) }
        }
    }
}

enum LogSetupLogger {
    static func make() -> Logging.Logger { Logging.Logger(label: "leafguard") }
}
