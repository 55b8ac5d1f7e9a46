import Foundation
import LeafConfig

/// Seals the planner's activity-log rows added since the last seal.
public struct SealActivityStep: JobStep {
    public static let name = "seal-activity"
    public static let summary = "seal new planner activity-log rows in a signed hash chain"

    public init?(parameters p: StepParameters) {}

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "activity-log sealing")
    }
}
