import Foundation
import LeafConfig

/// Makes a new master-key version active and re-wraps every data key under it.
public struct RotateKeysStep: JobStep {
    public static let name = "rotate-keys"
    public static let summary = "activate a new master-key version and re-wrap every data key (grace_days)"
    public let graceDays: Int

    public init?(parameters p: StepParameters) {
        graceDays = p["grace_days"]?.int(in: 0...3650) ?? 30
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "key rotation")
    }
}
