import Foundation
import LeafConfig

/// Checks the repository's structure and authenticates data.
public struct VerifyStep: JobStep {
    public static let name = "verify"
    public static let summary = "check structure and authenticate data (region, read_data: PERCENT, repair: BOOL)"
    public let region: String?
    public let readDataPercent: Int
    public let repair: Bool

    public init?(parameters p: StepParameters) {
        region = p.region("region")
        if p["region"] != nil && region == nil { return nil }
        readDataPercent = p["read_data"]?.int(in: 0...100) ?? 0
        repair = p["repair"]?.bool() ?? false
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "verify and repair")
    }
}
