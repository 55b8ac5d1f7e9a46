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
        let base = (p.config.file as NSString).deletingLastPathComponent
        out = absolute(p["out"]?.string() ?? "reports/posture", relativeTo: base)
        var fs: [String] = []
        if let list = p["formats"]?.sequence() {
            for item in list { if let f = item.choice(Self.formats) { fs.append(f) } }
        } else if p["formats"] != nil { return nil } else { fs = Self.formats }
        formats = fs
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "the posture report")
    }
}
