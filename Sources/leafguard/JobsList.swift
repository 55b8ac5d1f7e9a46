import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs
import LeafScheduler

extension Leafguard.Jobs {
    /// `leafguard jobs list [--json]`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs: schedule, time zone, last run and its outcome, next run, steps.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            let name: String
            let schedule: String?
            let timezone: String
            let after: [String]
            let steps: [String]
            let file: String
            let lastRun: Date?
            let lastOutcome: String?
            let next: Date?
            /// The oldest fire time that passed over 10 minutes ago with no run and no recorded miss.
            let overdueSince: Date?
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let catalog = try RunCatalog(stateDirectory: config.stateDirectory)
            let format = DateFormatter()
            format.locale = Locale(identifier: "en_US_POSIX")
            format.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
            let (jobs, broken) = try JobLoader(config: config).loadValid()
            for p in broken { printError("error: \(p)") }
            let now = Date()
            let rows = try jobs.map { job -> Row in
                let next = job.schedule?.nextFireTimes(after: Date(), count: 1, timeZone: job.timeZone).first
                let last = try catalog.lastRun(job: job.name)
                return Row(
                    name: job.name, schedule: job.schedule?.source, timezone: job.timeZoneName, after: job.policy.after,
                    steps: job.steps.map { type(of: $0).name }, file: job.file,
                    lastRun: last?.started, lastOutcome: last?.outcome.rawValue, next: next,
                    overdueSince: SchedulePlanner.overdue(job: job, state: try catalog.state(job: job.name), now: now))
            }
            if json { print(try jsonString(rows)); return }
            func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0) }
            print(pad("JOB", 24) + pad("SCHEDULE", 22) + pad("ZONE", 10) + pad("LAST RUN", 26) + pad("OUTCOME", 12) + pad("NEXT RUN", 26) + "STEPS")
            // For people, times in the job's own zone.
            for (job, r) in zip(jobs, rows) {
                format.timeZone = job.timeZone
                func local(_ d: Date?) -> String? { d.map { format.string(from: $0) } }
                let schedule = r.schedule ?? (r.after.isEmpty ? "on demand" : "after " + r.after.joined(separator: ","))
                print(
                    pad(r.name, 24) + pad(schedule, 22) + pad(r.timezone, 10) + pad(local(r.lastRun) ?? "never", 26)
                        + pad(r.lastOutcome ?? "-", 12) + pad(local(r.next) ?? "-", 26) + r.steps.joined(separator: " → "))
                if let since = local(r.overdueSince) { print("  OVERDUE: due at \(since) and not run; is 'leafguard tick' still called every minute?") }
            }
            if !broken.isEmpty { throw ExitCode(2) }
        }
    }
}
