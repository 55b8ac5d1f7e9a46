import Foundation
import LeafConfig

/// Writes the posture report: each promise with its evidence.
public struct ReportStep: JobStep {
    public static let name = "report"
    public static let summary = "posture report mapping each promise to evidence (out: DIR, formats: [json, html, md])"
    public static let formats = ["json", "html", "md"]
    public let out: String
    public let formats: [String]

    public init?(parameters p: StepParameters) {
        out = p.outputFolder(default: "reports/posture")
        guard let fs = p.formats(allowed: Self.formats) else { return nil }
        formats = fs
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "the posture report")
    }
}
