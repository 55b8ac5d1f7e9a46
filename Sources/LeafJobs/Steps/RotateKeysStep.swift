import Foundation
import LeafConfig
import LeafDeployment
import LeafKeys

/// Makes a new master-key version active and re-wraps every data key under it; then
/// retires older versions that no data key needs and that have been decrypt-only for
/// `grace_days`.
public struct RotateKeysStep: JobStep {
    /// The step's name in job files.
    public static let name = "rotate-keys"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "activate a new master-key version and re-wrap every data key (grace_days)"
    /// Days an older version stays decrypt-only before it may be retired (`grace_days:`, 30 by default).
    public let graceDays: Int

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        graceDays = p["grace_days"]?.int(in: 0...3650) ?? 30
    }

    /// Makes a new master-key version active, re-wraps every data key in every region under it, and retires versions past their grace.
    public func run(in context: StepContext) throws -> StepResult {
        let deployment = context.deployment
        if context.dryRun {
            let ring = try deployment.keyring()
            return StepResult(
                step: Self.name, status: .succeeded,
                summary: "would activate version \((ring.records.map(\.version).max() ?? 0) + 1) and re-wrap every data key")
        }
        let keys = KeyManagement(deployment: deployment, logger: context.logger)
        let report = try keys.rotate { region, done, total in
            context.progress.update("re-wrapping data keys in \(region)", done: Int64(done), total: Int64(total))
        }
        var details = report.regions.map {
            "\($0.region): \($0.result.rewrapped) of \($0.result.keys) data keys re-wrapped in \(String(format: "%.2f", $0.result.seconds)) s"
        }
        // Retire versions past their grace period that nothing needs any more.
        let grace = TimeInterval(graceDays) * 86400
        for r in try deployment.keyring().records where r.state == .decryptOnly && (r.rotated.map { context.now.timeIntervalSince($0) >= grace } ?? false) {
            do { try keys.retire(r.version, grace: grace); details.append("version \(r.version) retired") } catch {
                details.append("version \(r.version) kept: \(error)")
            }
        }
        let total = report.regions.reduce(0) { $0 + $1.result.rewrapped }
        return StepResult(
            step: Self.name, status: .succeeded,
            summary: "\(report.resumed ? "finished the rotation to" : "activated") master-key version \(report.version); \(total) data keys re-wrapped",
            figures: ["version": Double(report.version), "keys_rewrapped": Double(total)], details: details)
    }
}
