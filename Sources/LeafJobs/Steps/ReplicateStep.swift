import Foundation
import LeafConfig
import LeafRepository

/// Copies to another region every object it lacks.
public struct ReplicateStep: JobStep {
    /// The step's name in job files.
    public static let name = "replicate"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "copy every object the target region lacks (to: REGION, from: REGION = primary)"
    /// The region copied from (`from:`, `primary` by default).
    public let from: String
    /// The region copied to (`to:`).
    public let to: String

    /// A replication from one region to another (the `replicate` command).
    public init(from: String, to: String) { self.from = from; self.to = to }

    /// Reads `to:` and `from:`; nil after recording a located problem (an unknown region, or the same region twice).
    public init?(parameters p: StepParameters) {
        let to = p.region("to", required: true)
        let from = p.region("from", default: p.config.primaryRegion.name)
        guard let to, let from else { return nil }
        if to == from { p["to"]?.report("replicate copies from '\(from)' to itself", hint: "name another region in 'to'"); return nil }
        self.to = to; self.from = from
    }

    /// Copies every object of `from` that `to` lacks, and the audit trail.
    public func run(in context: StepContext) throws -> StepResult {
        let deployment = context.deployment
        let source = try deployment.repository(from)
        guard let target = context.config.region(named: to) else { throw StepError("region '\(to)' is not configured") }
        if context.dryRun {
            return StepResult(
                step: Self.name, status: .succeeded,
                summary: "dry run: would copy to '\(to)' what it lacks of \(source.snapshotIDs().count) snapshot(s) in '\(from)'")
        }
        // The target holds the keyring before any key wrapped under it arrives.
        try source.checkSameRepository(try deployment.locations(of: target))
        try deployment.publishKeyring(to: to)
        let progress = context.progress
        let r = try source.replicate(to: try deployment.locations(of: target), signedCopyIsAuthentic: try deployment.signedCopyCheck()) {
            _, packs, total in
            progress.update("replicate to \(to)", done: packs, total: total, unit: "packs")
        }
        let held = source.snapshotIDs().count - r.snapshotsInTarget
        let status: StepResult.Status = held > 0 ? .failed : (r.problems.isEmpty ? .succeeded : .warning)
        return StepResult(
            step: Self.name, status: status,
            summary: "'\(from)' → '\(to)': \(r.shardsCopied) shards (\(Progress.format(r.bytesCopied, unit: "B"))) copied"
                + (r.shardsRebuilt > 0 ? ", \(r.shardsRebuilt) rebuilt from parity" : "")
                + ", \(r.snapshotsCopied) new snapshot(s); '\(to)' holds \(r.snapshotsInTarget)"
                + (held > 0 ? "; \(held) snapshot(s) held back until their data arrives" : ""),
            figures: [
                "shards_copied": Double(r.shardsCopied), "bytes_copied": Double(r.bytesCopied),
                "shards_rebuilt": Double(r.shardsRebuilt), "snapshots_copied": Double(r.snapshotsCopied),
                "snapshots_in_target": Double(r.snapshotsInTarget), "problems": Double(r.problems.count),
            ],
            details: r.problems)
    }
}
