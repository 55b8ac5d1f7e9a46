import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs

extension Leafguard.Jobs {
    /// `leafguard jobs validate [FILE…]`: checks the configuration and job files.
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration and job files; exit 2 naming file, line and column of each problem.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Job files to check (default: every file in the jobs folder).")
        var files: [String] = []

        func run() throws {
            _ = global.logger()
            // leafguard.yml's problems and every job file's, together: one pass fixes them all.
            let config: LeafguardConfig
            var problems: [ConfigProblem] = []
            do { config = try global.loadConfig() } catch let e as ConfigurationError {
                guard let salvaged = e.salvaged else { throw e }
                problems = e.problems
                config = salvaged
            }
            if problems.isEmpty { print("\(config.file): ok") }
            let loader = JobLoader(config: config)
            let cwd = FileManager.default.currentDirectoryPath
            do {
                let jobs = files.isEmpty ? try loader.loadAll() : try loader.load(files: files.map { absolute($0, relativeTo: cwd) })
                for j in jobs {
                    let schedule = j.schedule.map { "schedule \"\($0)\" \(j.timeZoneName)" } ?? "on demand"
                    print("\(j.file): ok: job \(j.name), \(j.steps.count) step(s), \(schedule)")
                }
            } catch let e as ConfigurationError {
                problems += e.problems
            }
            if !problems.isEmpty { throw ConfigurationError(problems) }
        }
    }
}
