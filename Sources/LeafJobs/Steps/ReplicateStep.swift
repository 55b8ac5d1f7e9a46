import Foundation
import LeafConfig

/// Copies to another region every object it lacks.
public struct ReplicateStep: JobStep {
    public static let name = "replicate"
    public static let summary = "copy every object the target region lacks (to: REGION, from: REGION = primary)"
    public let from: String
    public let to: String

    public init?(parameters p: StepParameters) {
        let to = p.region("to", required: true)
        let from = p.region("from", default: p.config.primaryRegion.name)
        guard let to, let from else { return nil }
        if to == from { p["to"]?.report("replicate copies from '\(from)' to itself", hint: "name another region in 'to'"); return nil }
        self.to = to; self.from = from
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "replication to a backup region")
    }
}
