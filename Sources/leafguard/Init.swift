import ArgumentParser
import Foundation
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafScheduler

extension Leafguard {
    /// `leafguard init [--force]`: creates the deployment's repository.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the repository in the primary region and give every other region its identity.",
            discussion: "Refused when any region already holds a repository or the state folder knows one: a lost region is rebuilt "
                + "with 'leafguard replicate --from OTHER --to LOST', never created anew. --force starts a new, empty repository "
                + "after every region was lost.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Start a new repository although the state folder knows one that no region holds.") var force = false

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let repo = try audited(config, action: "init", command: "init", objects: force ? ["force"] : []) {
                do { return try openDeployment(config).initialize(force: force) } catch let e as DeploymentError {
                    throw CommandFailure(e.description, status: 1)
                }
            }
            // The metrics file exists from install on (leafguard_tick_last_seconds 0 until the
            // first tick), so the alerts on it work before cron ever ran a tick.
            RunSupervisor(config: config, logger: global.logger()).writeMetrics(jobs: [])
            print(
                "repository \(repo.config.id.hex) created in '\(config.primaryRegion.name)'"
                    + (config.regions.count > 1
                        ? " and given to \(config.regionNames.filter { $0 != config.primaryRegion.name }.map { "'\($0)'" }.joined(separator: ", "))" : ""))
        }
    }

    /// `leafguard replicate --from REGION --to REGION`: the replicate step as a command, the
    /// way to rebuild a lost region.
    struct Replicate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy to a region everything another holds that it lacks: rebuilds a wholly or partly lost region.",
            discussion: "Copies the keyring, config, keys, packs (rebuilding shards the source lacks), indexes, snapshots, archived "
                + "reports and audit objects; nothing is overwritten, so it is safe to rerun and resumes where a stopped run ended. "
                + "Refused when the two regions hold different repositories.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Region to copy from.") var from: String
        @Option(help: "Region to copy to.") var to: String
        @Flag(help: "Print the step's result as JSON (status, summary, figures, details).") var json = false

        func validate() throws {
            guard from != to else { throw ValidationError("--from and --to name the same region '\(from)'") }
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            for name in [from, to] where config.region(named: name) == nil {
                throw ConfigurationError(file: config.file, message: "region '\(name)' is not defined; defined: \(config.regionNames.joined(separator: ", "))")
            }
            let outcome = try audited(config, action: "replicate", command: "replicate", objects: ["from \(from)", "to \(to)"]) {
                let progress = Progress()
                progress.begin()
                defer { progress.end() }
                let context = StepContext(config: config, job: "replicate", dryRun: false, logger: logger, progress: progress)
                return try ReplicateStep(from: from, to: to).run(in: context)
            }
            if json {
                print(try jsonString(outcome))
            } else {
                print(outcome.summary)
                for d in outcome.details.prefix(50) { print("  - \(d)") }
            }
            if outcome.status == .failed { throw ExitCode(1) }
        }
    }
}
