import ArgumentParser
import Foundation
import LeafConfig
import LeafScheduler

extension Leafguard {
    /// `leafguard history [JOB] [--limit N] [--json]`.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show past runs, newest first: trigger, start, duration, outcome, and each step's result.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Only this job's runs.") var job: String?
        @Option(help: "How many runs.") var limit = 20
        @Flag(help: "Print JSON, with every step's figures.") var json = false

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            if let job { _ = try findJob(job, config: config) }
            let catalog = try RunCatalog(stateDirectory: config.stateDirectory)
            let runs = try catalog.history(job: job, limit: limit)
            if json { print(try jsonString(runs.map(RunSummary.init))); return }
            if runs.isEmpty { print("no runs recorded\(job.map { " for \($0)" } ?? "")"); return }
            let local = DateFormatter()
            local.locale = Locale(identifier: "en_US_POSIX")
            local.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
            print(columns(["RUN", "JOB", "TRIGGER", "STARTED", "SECONDS", "OUTCOME", "SUMMARY"]))
            for r in runs {
                let trigger = r.trigger.rawValue + (r.attempt > 1 ? " #\(r.attempt)" : "") + (r.dryRun ? " (dry)" : "")
                print(
                    columns([
                        "\(r.id)", r.job, trigger, local.string(from: r.started),
                        r.seconds.map { String(format: "%.1f", $0) } ?? "-", r.outcome.rawValue, r.summary,
                    ]))
                if job != nil {
                    for s in r.steps {
                        print("      \(s.step): \(s.status.rawValue), \(s.summary)")
                    }
                }
            }
        }

        func columns(_ c: [String]) -> String {
            let widths = [6, 24, 12, 26, 8, 12]
            return zip(c, widths + [0]).map { text, w in w == 0 ? text : text.padding(toLength: max(w, text.count + 1), withPad: " ", startingAt: 0) }.joined()
        }
    }
}
