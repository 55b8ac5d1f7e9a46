import Foundation
import LeafCompliance
import LeafConfig
import LeafReports

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
        if let gate = failOn.flatMap(Severity.init(rawValue:)), report.count(atOrAbove: gate) > 0 {
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
