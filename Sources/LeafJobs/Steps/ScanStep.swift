import Foundation
import LeafConfig

/// Scans accounts for MFA, password-policy and access compliance.
public struct ScanStep: JobStep {
    public static let name = "scan"
    public static let summary = "compliance scan of planner accounts (out: DIR, formats: [json, csv, html, md], fail_on: SEVERITY)"
    public static let formats = ["json", "csv", "html", "md"]
    public static let severities = ["critical", "high", "medium", "low"]
    public let out: String
    public let formats: [String]
    public let failOn: String?

    public init?(parameters p: StepParameters) {
        out = p.outputFolder(default: "reports/compliance")
        guard let fs = p.formats(allowed: Self.formats) else { return nil }
        formats = fs
        failOn = p["fail_on"]?.choice(Self.severities)
        if p["fail_on"] != nil && failOn == nil { return nil }
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "compliance scans")
    }
}
