import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs

extension Leafguard {
    /// `leafguard run JOB [--dry-run]`: runs one job's steps now.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one job now, step by step, stopping at the first failed step.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The job's name (see 'leafguard jobs list').")
        var job: String

        @Flag(help: "Check the job and say what each step would do, changing nothing.")
        var dryRun = false

        func run() async throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let jobs = try JobLoader(config: config).loadAll()
            guard let definition = jobs.first(where: { $0.name == job }) else {
                throw ConfigurationError(file: config.jobsDirectory, message: "no job named '\(job)'",
                                         hint: "jobs: \(jobs.map(\.name).joined(separator: ", "))")
            }
            let result = await JobRunner(config: config, logger: logger).run(definition, dryRun: dryRun)
            printRun(result)
            if !result.succeeded { throw ExitCode(1) }
        }
    }
}
