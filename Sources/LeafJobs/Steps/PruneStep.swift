import Foundation
import LeafConfig
import LeafRepository

/// Removes snapshots that no retention rule keeps.
public struct PruneStep: JobStep {
    /// The step's name in job files.
    public static let name = "prune"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "forget snapshots no rule keeps (keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly)"
    /// The keep rules a prune step takes, as job files write them.
    public static let rules = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"]
    /// How many snapshots each rule keeps, by rule name.
    public let keep: [String: Int]
    /// Whether only to say what would be removed (`dry_run:`).
    public let dryRun: Bool
    /// The zone hours, days and weeks are counted in (`timezone:`, UTC by default).
    public let timeZone: TimeZone

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        var keep: [String: Int] = [:]
        for rule in Self.rules { if let n = p[rule]?.int(in: 0...100_000) { keep[rule] = n } }
        dryRun = p["dry_run"]?.bool() ?? false
        var tz = (TimeZone(identifier: "UTC") ?? .gmt)
        if let v = p["timezone"], let name = v.string() {
            guard let zone = TimeZone(identifier: name) else {
                v.report("unknown time zone '\(name)'", hint: "an IANA name such as UTC or Europe/London; days and weeks are counted in it")
                return nil
            }
            tz = zone
        }
        timeZone = tz
        if keep.values.allSatisfy({ $0 == 0 }) {
            p.report(
                "prune needs at least one keep rule above 0, or it would remove every snapshot",
                hint: "e.g. {prune: {keep_daily: 7, keep_weekly: 4, keep_monthly: 12}}")
            return nil
        }
        self.keep = keep
    }

    /// The rules as the repository's retention takes them.
    public var policy: RetentionPolicy {
        RetentionPolicy(
            last: keep["keep_last"] ?? 0, hourly: keep["keep_hourly"] ?? 0, daily: keep["keep_daily"] ?? 0,
            weekly: keep["keep_weekly"] ?? 0, monthly: keep["keep_monthly"] ?? 0, yearly: keep["keep_yearly"] ?? 0,
            timeZone: timeZone)
    }

    /// Removes, in every region, the snapshots no rule keeps and the data only they used.
    public func run(in context: StepContext) throws -> StepResult {
        let deployment = context.deployment
        let dry = dryRun || context.dryRun
        var lines: [String] = []
        var details: [String] = []
        var figures: [String: Double] = ["snapshots_forgotten": 0, "packs_removed": 0, "bytes_freed": 0]
        for region in context.config.regionNames {
            let repo: Repository
            do { repo = try deployment.repository(region) } catch RepositoryError.notInitialized { continue }
            if !dry {
                // What an earlier removal left in a location that refused it then.
                let finished = repo.finishRemovals()
                repo.noteWriteProblems(finished.refused)
                details += finished.removed.map { "\(region): finished removing \($0.name) from \($0.location), which had refused it" }
            }
            let r = try repo.prune(policy: policy, dryRun: dry, now: context.now)
            lines.append(
                "'\(region)': \(dry ? "would forget" : "forgot") \(r.forgotten.count) of \(r.kept.count + r.forgotten.count) snapshots, "
                    + "\(dry ? "would remove" : "removed") \(r.packsRemoved) packs (\(Progress.format(r.bytesFreed, unit: "B")))")
            let f = ISO8601DateFormatter()
            details += r.forgotten.map { "\(region): \(dry ? "would forget" : "forgot") \($0.id.short) (\(f.string(from: $0.time)))" }
            details += r.kept.map { "\(region): keep \($0.id.short) (\(f.string(from: $0.time))): \($0.reasons.joined(separator: ", "))" }
            figures["snapshots_forgotten", default: 0] += Double(r.forgotten.count)
            figures["packs_removed", default: 0] += Double(r.packsRemoved)
            figures["bytes_freed", default: 0] += Double(r.bytesFreed)
        }
        return StepResult(
            step: Self.name, status: .succeeded,
            summary: (dry ? "dry run: " : "") + (lines.isEmpty ? "no region holds snapshots" : lines.joined(separator: "; ")),
            figures: figures, details: details)
    }
}
