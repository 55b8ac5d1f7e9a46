import Foundation
import LeafConfig

/// Removes snapshots that no retention rule keeps.
public struct PruneStep: JobStep {
    public static let name = "prune"
    public static let summary = "forget snapshots no rule keeps (keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly)"
    public static let rules = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"]
    public let keep: [String: Int]
    public let dryRun: Bool

    public init?(parameters p: StepParameters) {
        var keep: [String: Int] = [:]
        for rule in Self.rules { if let n = p[rule]?.int(in: 0...100_000) { keep[rule] = n } }
        dryRun = p["dry_run"]?.bool() ?? false
        if keep.values.allSatisfy({ $0 == 0 }) {
            p.report("prune needs at least one keep rule above 0, or it would remove every snapshot",
                     hint: "e.g. {prune: {keep_daily: 7, keep_weekly: 4, keep_monthly: 12}}")
            return nil
        }
        self.keep = keep
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "retention and pruning")
    }
}
