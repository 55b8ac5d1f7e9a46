import Foundation
import LeafConfig
import LeafReports

/// The posture report: each promise of the security page with its live evidence and a
/// pass / warn / fail verdict.
public struct ReportStep: JobStep {
    public static let name = "report"
    public static let summary =
        "posture report: each promise with its evidence and verdict (out: DIR, formats: [json, html, md], scan: DIR, fail_on: fail|warn)"
    public static let formats = ["json", "html", "md"]
    public let out: String
    public let formats: [String]
    public let scanDirectory: String
    public let failOn: Verdict?

    public init?(parameters p: StepParameters) {
        out = p.outputFolder(default: "reports/posture")
        scanDirectory = p.outputFolder("scan", default: "reports/compliance")
        guard let fs = p.formats(allowed: Self.formats) else { return nil }
        formats = fs
        if let v = p["fail_on"] {
            guard let s = v.choice(["fail", "warn"]) else { return nil }
            failOn = Verdict(rawValue: s)
        } else {
            failOn = nil
        }
    }

    public func run(in context: StepContext) throws -> StepResult {
        let report = PostureCollector(deployment: context.deployment, now: context.now, scanDirectory: scanDirectory).collect()
        let written = context.dryRun ? [] : try PostureOutput.write(report, formats: formats, to: out)
        var figures: [String: Double] = ["verdict": Double(report.verdict.rank)]
        for p in report.promises { figures["\(p.id)_verdict"] = Double(p.verdict.rank) }
        if let rp = report.promises.first(where: { $0.id == "regions" })?.figures["recovery_point_hours"] { figures["recovery_point_hours"] = rp }
        let counts = Verdict.allCases.map { v in "\(report.promises.filter { $0.verdict == v }.count) \(v.rawValue)" }.joined(separator: ", ")
        let gated = failOn.map { report.verdict >= $0 } ?? false
        return StepResult(
            step: Self.name, status: gated ? .failed : (report.verdict == .pass ? .succeeded : .warning),
            summary: "posture \(report.verdict.rawValue.uppercased()): \(counts)" + (gated ? " (fail_on \(failOn?.rawValue ?? ""))" : ""),
            figures: figures,
            details: report.promises.filter { $0.verdict != .pass }.flatMap { p in p.reasons.map { "\(p.id): \($0)" } } + written.map { "wrote \($0)" })
    }
}
