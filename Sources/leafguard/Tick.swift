import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs
import LeafScheduler

extension Leafguard {
    /// `leafguard tick [--now T]`: what cron, a systemd timer or a Kubernetes CronJob calls
    /// every minute.
    struct Tick: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every job that has come due since its last run (call this every minute).",
            discussion: """
                Each due job runs as its own 'leafguard run' process, under the job's lock, so overlapping \
                ticks and hosts sharing the state folder never start one fire time twice. Jobs with 'after:' \
                run in the same tick once their dependencies have succeeded. Exit status: 0 when every run \
                started succeeded (or nothing was due), 1 when one failed, 2 bad configuration, 3 when runs \
                warned and none failed.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "Act as if it were this instant (ISO 8601); only in a drill copy (drill_copy: true in leafguard.yml).")
        var now: String?

        @Flag(help: "Print what the tick did as JSON: events, failures, warnings, broken job files.") var json = false

        struct Event: Encodable {
            let kind: String
            let job: String
            let run: Int64?
            let status: Int32?
            let count: Int?
            let detail: String?
        }

        struct Report: Encodable {
            let events: [Event]
            let failures: Int
            let warnings: Int
            let brokenJobFiles: [String]
            enum CodingKeys: String, CodingKey {
                case events, failures, warnings
                case brokenJobFiles = "broken_job_files"
            }
        }

        func validate() throws {
            if let now, parseInstant(now) == nil { throw ValidationError("--now '\(now)' is not ISO 8601, e.g. 2026-03-29T02:30:00Z") }
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            try refuseNowOutsideDrills(now, dryRun: false, config: config)
            var options = ["--log-format", global.logFormat, "--log-level", global.logLevel]
            if let file = global.config { options += ["--config", absolute(file, relativeTo: FileManager.default.currentDirectoryPath)] }
            let scheduler = Scheduler(
                config: config, logger: logger,
                launcher: ProcessRunLauncher(executable: Self.executablePath, options: options))
            let report = try scheduler.tick(now: now.flatMap(parseInstant) ?? Date())
            for p in report.brokenJobFiles { printError("error: \(p)") }
            if json {
                let events = report.events.map { event -> Event in
                    switch event {
                    case .interrupted(let run):
                        return Event(
                            kind: "interrupted", job: run.job, run: run.id, status: nil, count: nil,
                            detail: "pid \(run.pid) on \(run.host) died without finishing")
                    case .missed(let job, let count, let reason): return Event(kind: "missed", job: job, run: nil, status: nil, count: count, detail: reason)
                    case .finished(let job, let status): return Event(kind: "finished", job: job, run: nil, status: status, count: nil, detail: nil)
                    }
                }
                print(
                    try jsonString(
                        Report(events: events, failures: report.failures, warnings: report.warnings, brokenJobFiles: report.brokenJobFiles.map(\.description))))
            }
            for event in report.events where !json {
                switch event {
                case .interrupted(let run):
                    print("\(run.job): run \(run.id) (pid \(run.pid) on \(run.host)) died without finishing; recorded as interrupted")
                case .missed(let job, let count, let reason):
                    print("\(job): \(count) run\(count == 1 ? "" : "s") missed (\(reason))")
                case .finished(let job, 75):
                    print("\(job): still running from an earlier start; left due (concurrency: forbid)")
                case .finished:
                    break
                }
            }
            if !report.brokenJobFiles.isEmpty { throw ExitCode(2) }
            // The same outcome as each run's own: 1 when one failed, 3 when runs warned and
            // none failed (cron mails on any non-zero status; a warned run is not a failure).
            if report.failures > 0 { throw ExitCode(1) }
            if report.warnings > 0 { throw ExitCode(3) }
        }

        static var executablePath: String {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        }
    }
}
