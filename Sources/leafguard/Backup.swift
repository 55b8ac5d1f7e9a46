import ArgumentParser
import Foundation
import LeafConfig
import LeafScheduler
import LeafTime

extension Leafguard {
    /// `leafguard backup [--region R] [--dry-run] [--json]`: the backup step, once.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Snapshot the planner data into a region now (the backup step, once, outside any job).",
            discussion: """
                Runs like a job named 'backup-once': under its lock, recorded in the history and the audit log. \
                With --dry-run it says what it would add: new and changed documents, and the database's size. \
                Exit status as 'leafguard run'. Example: leafguard backup --dry-run --config /etc/leafguard/leafguard.yml
                """)

        @OptionGroup var global: GlobalOptions
        @Option(help: "Region to write the snapshot to (default: primary).") var region: String?
        @Flag(help: "Say what the backup would add, writing nothing.") var dryRun = false
        @Flag(help: "Print the run as JSON (the history's record: outcome, steps, figures).") var json = false

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            if let region { try global.checkRegion(region, in: config) }
            let job = try JobLoader(config: config).oneOff(
                name: "backup-once", step: "backup", parameters: region.map { [("region", JobLoader.yamlQuoted($0))] } ?? [])
            try executeRun(RunRequest(job: job, dryRun: dryRun), config: config, logger: logger, clock: Clock(), json: json)
        }
    }

    /// `leafguard prune [--dry-run] [--keep-* N] [--json]`: the prune step, once.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget the snapshots no keep rule keeps, in every region, and remove the data no snapshot needs.",
            discussion: """
                The rules are the --keep-* flags when any is given, else leafguard.yml's 'retention:' (the prune \
                step's keys). Snapshots forgotten with 'snapshots forget' lose their data here. Runs like a job \
                named 'prune-once'. Example: leafguard prune --keep-daily 7 --keep-weekly 4 --dry-run
                """)

        @OptionGroup var global: GlobalOptions
        @Option(help: "Keep the newest N snapshots.") var keepLast: Int?
        @Option(help: "Keep the newest snapshot of each of the last N hours.") var keepHourly: Int?
        @Option(help: "Keep the newest snapshot of each of the last N days.") var keepDaily: Int?
        @Option(help: "Keep the newest snapshot of each of the last N weeks.") var keepWeekly: Int?
        @Option(help: "Keep the newest snapshot of each of the last N months.") var keepMonthly: Int?
        @Option(help: "Keep the newest snapshot of each of the last N years.") var keepYearly: Int?
        @Flag(help: "Say what would be forgotten and removed, removing nothing.") var dryRun = false
        @Flag(help: "Print the run as JSON (the history's record: outcome, steps, figures).") var json = false

        func validate() throws {
            for n in [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly].compactMap({ $0 }) where n < 0 {
                throw ValidationError("a --keep-* count must be 0 or more")
            }
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let flags: [(String, Int?)] = [
                ("keep_last", keepLast), ("keep_hourly", keepHourly), ("keep_daily", keepDaily), ("keep_weekly", keepWeekly),
                ("keep_monthly", keepMonthly), ("keep_yearly", keepYearly),
            ]
            var rules = flags.compactMap { name, n in n.map { (name, String($0)) } }
            if rules.isEmpty {
                rules = config.retention.sorted { $0.key < $1.key }.map { ($0.key, $0.key == "timezone" ? JobLoader.yamlQuoted($0.value) : $0.value) }
            }
            guard rules.isEmpty || rules.contains(where: { $0.0 != "timezone" && $0.1 != "0" }) else {
                throw CommandFailure(
                    "prune needs at least one keep rule above 0, or it would remove every snapshot: e.g. --keep-daily 7 --keep-weekly 4", status: 2)
            }
            guard !rules.isEmpty else {
                throw CommandFailure(
                    "prune needs keep rules: give --keep-daily N (and the like), or set them in \(config.file) under 'retention:', "
                        + "e.g. 'retention: {keep_daily: 7, keep_weekly: 4, keep_monthly: 12}'", status: 2)
            }
            let job = try JobLoader(config: config).oneOff(name: "prune-once", step: "prune", parameters: rules)
            try executeRun(RunRequest(job: job, dryRun: dryRun), config: config, logger: logger, clock: Clock(), json: json)
        }
    }
}
