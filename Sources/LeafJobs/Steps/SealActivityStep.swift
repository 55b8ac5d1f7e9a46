import Foundation
import LeafAudit
import LeafConfig
import LeafDeployment

/// Seals the planner's activity-log rows added since the last seal.
public struct SealActivityStep: JobStep {
    /// The step's name in job files.
    public static let name = "seal-activity"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "seal new planner activity-log rows in a signed hash chain"

    /// The step takes no parameters.
    public init?(parameters p: StepParameters) {}

    /// Seals the activity-log rows added since the last seal.
    public func run(in context: StepContext) throws -> StepResult {
        let database = context.config.dataDirectory + "/planner.db"
        guard FileManager.default.fileExists(atPath: database) else { throw StepError("the planner database \(database) does not exist") }
        if context.dryRun { return StepResult(step: Self.name, status: .succeeded, summary: "would seal new activity-log rows of \(database)") }
        let trail = AuditTrail(config: context.config, logger: context.logger)
        let signer = try trail.signer()
        let t0 = Date()
        guard let seal = try ActivitySealer(stateDirectory: context.config.stateDirectory).seal(database: database, signer: signer, at: context.now) else {
            return StepResult(step: Self.name, status: .succeeded, summary: "no new activity-log rows since the last seal", figures: ["rows_sealed": 0])
        }
        let seconds = Date().timeIntervalSince(t0)
        let h = seal.header
        let regions = trail.storeInRegions(h.name, seal.bytes, publicKey: signer.publicKeyHex)
        let missing = context.config.regionNames.filter { !regions.contains($0) }
        return StepResult(
            step: Self.name, status: missing.isEmpty ? .succeeded : .warning,
            summary:
                "seal \(h.seq): \(h.count) rows (ids \(h.fromID)–\(h.toID)) in \(String(format: "%.2f", seconds)) s; stored in state and \(regions.isEmpty ? "no region" : regions.joined(separator: ", "))",
            figures: ["rows_sealed": Double(h.count), "seal": Double(h.seq), "bytes_sealed": Double(seal.bytes.count)],
            details: [h.name] + missing.map { "region '\($0)' has no copy of this seal (no repository there yet, or unreachable); the state folder has it" })
    }
}
