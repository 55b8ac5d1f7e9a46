import Foundation
import LeafCompliance
import LeafConfig
import LeafReports

/// Scans accounts for MFA, password-policy and access compliance.
public struct ScanStep: JobStep {
    /// The step's name in job files.
    public static let name = "scan"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "compliance scan of planner accounts (out: DIR, formats: [json, csv, html, md], fail_on: SEVERITY)"
    /// The formats the scan's findings are written in.
    public static let formats = ScanFormat.allCases.map(\.rawValue)
    /// Finding severities, most severe first, as `fail_on:` takes them.
    public static let severities = Severity.allCases.map(\.rawValue)
    /// The folder the findings are written to (`out:`).
    public let out: String
    /// The formats written (`formats:`).
    public let formats: [ScanFormat]
    /// The severity, or worse, that makes the step fail (`fail_on:`); nil: findings never fail it.
    public let failOn: Severity?

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        out = p.outputFolder(default: "reports/compliance")
        guard let fs = p.formats(allowed: Self.formats) else { return nil }
        formats = fs.compactMap(ScanFormat.init(rawValue:))
        failOn = p["fail_on"]?.choice(Self.severities).flatMap(Severity.init(rawValue:))
        if p["fail_on"] != nil && failOn == nil { return nil }
    }

    /// Scans a consistent copy of the planner's database and writes the findings.
    public func run(in context: StepContext) throws -> StepResult {
        let scanner = ComplianceScanner(
            databasePath: context.config.dataDirectory + "/planner.db",
            settings: context.config.complianceSettings, exceptions: context.config.complianceExceptions)
        let report = try scanner.scan(asOf: context.now)
        var written: [String] = []
        var archived: String?
        if !context.dryRun {
            written = try ScanOutputs.write(report, formats: formats, to: out, config: context.config)
            let regions = ReportArchive(deployment: context.deployment, logger: context.logger).store(report, files: written, at: context.now)
            archived = regions.isEmpty ? "not archived (no region holds a repository yet)" : "archived, encrypted, in \(regions.joined(separator: ", "))"
        }
        let bySeverity = Severity.allCases.map { s in "\(report.count(s)) \(s.rawValue)" }.joined(separator: ", ")
        var status: StepResult.Status = .succeeded
        var summary = "\(report.totals.activeUsers) active users, \(report.totals.activeUsersWithMFA) with MFA; findings: \(bySeverity)"
        if !report.excepted.isEmpty { summary += "; \(report.excepted.count) excepted" }
        if !report.expiredExceptions.isEmpty { summary += "; \(report.expiredExceptions.count) exception(s) expired" }
        ScanOutputs.learn(report, context.config.state)
        if let gate = failOn, report.count(atOrAbove: gate) > 0 {
            status = .failed
            summary += "; \(report.count(atOrAbove: gate)) at or above \(gate.rawValue) (fail_on)"
        }
        var figures: [String: Double] = [
            "findings": Double(report.findings.count), "active_users": Double(report.totals.activeUsers),
            "active_users_with_mfa": Double(report.totals.activeUsersWithMFA),
            "findings_excepted": Double(report.excepted.count),
        ]
        for s in Severity.allCases { figures["findings_\(s.rawValue)"] = Double(report.count(s)) }
        return StepResult(
            step: Self.name, status: status, summary: summary, figures: figures,
            details: written.map { "wrote \($0)" } + (archived.map { [$0] } ?? []))
    }
}
