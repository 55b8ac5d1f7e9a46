import Foundation
import LeafConfig
import LeafReports

/// The posture report: each promise of the security page with its live evidence and a
/// pass / warn / fail verdict.
public struct ReportStep: JobStep {
    /// The step's name in job files.
    public static let name = "report"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary =
        "posture report: each promise with its evidence and verdict (out: DIR, formats: [json, html, md], scan: DIR, fail_on: fail|warn)"
    /// The formats the posture report is written in.
    public static let formats = PostureFormat.allCases.map(\.rawValue)
    /// The folder the report is written to (`out:`).
    public let out: String
    /// The formats written (`formats:`).
    public let formats: [PostureFormat]
    /// The folder of the newest compliance scan the report reads (`scan:`).
    public let scanDirectory: String
    /// The verdict, or worse, that makes the step fail (`fail_on:`); nil: the report never fails the step.
    public let failOn: Verdict?

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        out = p.outputFolder(default: "reports/posture")
        scanDirectory = p.outputFolder("scan", default: "reports/compliance")
        guard let fs = p.formats(allowed: Self.formats) else { return nil }
        formats = fs.compactMap(PostureFormat.init(rawValue:))
        if let v = p["fail_on"] {
            guard let s = v.choice([Verdict.fail.rawValue, Verdict.warn.rawValue]) else { return nil }
            failOn = Verdict(rawValue: s)
        } else {
            failOn = nil
        }
    }

    /// Collects the evidence, writes the report and its evidence manifest, and archives them in the regions.
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
