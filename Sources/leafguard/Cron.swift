import ArgumentParser
import Foundation
import LeafConfig
import LeafCron
import LeafScheduler

extension Leafguard {
    /// `leafguard cron …`.
    struct Cron: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cron expressions.", subcommands: [Next.self, Print.self])
    }
}

extension Leafguard.Cron {
    /// `leafguard cron next "EXPR" [--after T] [--count N] [--tz ZONE]`.
    struct Next: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the next fire times of a cron expression, ISO 8601 with UTC offset, one a line.")

        @Argument(help: "A five-field cron expression or a macro such as @daily.") var expression: String
        @Option(help: "Start after this instant (ISO 8601; default now).") var after: String?
        @Option(help: "How many fire times.") var count = 5
        @Option(help: "IANA time zone the schedule is in (default UTC).") var tz = "UTC"

        func validate() throws {
            guard count >= 1 && count <= 10_000 else { throw ValidationError("--count must be between 1 and 10000") }
            guard TimeZone(identifier: tz) != nil else { throw ValidationError("unknown time zone '\(tz)'; use an IANA name such as Europe/London") }
            if let after, parseInstant(after) == nil { throw ValidationError("--after '\(after)' is not ISO 8601, e.g. 2026-03-29T00:30:00Z") }
        }

        func run() throws {
            let cron: CronExpression
            do { cron = try CronExpression(expression) } catch let e as CronError {
                throw CommandFailure("invalid cron expression: \(e.message)", status: 2)
            }
            guard let zone = TimeZone(identifier: tz) else { throw ValidationError("unknown time zone '\(tz)'") }
            let start = after.flatMap(parseInstant) ?? Date()
            let out = DateFormatter()
            out.locale = Locale(identifier: "en_US_POSIX")
            out.timeZone = zone
            out.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
            for d in cron.nextFireTimes(after: start, count: count, timeZone: zone) { print(out.string(from: d)) }
        }
    }
}

extension Leafguard.Cron {
    /// `leafguard cron print [--format crontab|systemd|kubernetes] [--out DIR]`.
    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the crontab (or systemd units, or Kubernetes CronJobs) that run the configured jobs.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "crontab (one line calling 'tick' every minute), systemd (a timer per job) or kubernetes (a CronJob per job).")
        var format = "crontab"
        @Option(help: "Write each file into this folder instead of printing.") var out: String?
        @Option(help: "The configuration path the units name (default: the configuration's own path).") var configPath: String?
        @Option(help: "The leafguard binary the units run.") var binary = "/usr/local/bin/leafguard"
        @Option(help: "The user cron and systemd run leafguard as.") var user = "leafguard"

        func validate() throws {
            guard ["crontab", "systemd", "kubernetes"].contains(format) else {
                throw ValidationError("--format must be crontab, systemd or kubernetes, not '\(format)'")
            }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let jobs = try JobLoader(config: config).loadAll()
            var units = SchedulerUnits()
            units.configPath = configPath ?? config.file
            units.binary = binary
            units.user = user
            let files: [(String, String)]
            switch format {
            case "systemd": files = units.systemd(jobs: jobs)
            case "kubernetes": files = units.kubernetes(jobs: jobs)
            default: files = [("leafguard.cron", units.crontab(jobs: jobs))]
            }
            guard let out else {
                if files.count == 1 { print(files[0].1, terminator: ""); return }
                for (name, text) in files { print("### \(name)\n\(text)") }
                return
            }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for (name, text) in files {
                try text.write(toFile: (out as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
                print("wrote \((out as NSString).appendingPathComponent(name))")
            }
        }
    }
}
