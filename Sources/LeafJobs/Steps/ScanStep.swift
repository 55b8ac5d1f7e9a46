import Foundation
import LeafCompliance
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
        let scanner = ComplianceScanner(databasePath: context.config.dataDirectory + "/planner.db",
                                        settings: context.config.complianceSettings, exceptions: context.config.complianceExceptions)
        let report = try scanner.scan(asOf: context.now)
        var written: [String] = []
        var notYet: [String] = []
        var archived: String?
        if !context.dryRun {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let previous = ComplianceOutput.previous(in: out)
            for format in formats {
                let text: String
                switch format {
                case "json": text = try ComplianceOutput.json(report)
                case "csv": text = ComplianceOutput.csv(report)
                case "md": text = ComplianceOutput.markdown(report)
                case "html": text = ComplianceOutput.html(report, previous: previous)
                default: notYet.append(format); continue
                }
                let path = out + "/compliance.\(format)"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                written.append(path)
            }
            written.append(try EvidenceManifest.write(report: report, config: context.config, outputs: written, to: out))
            let regions = ReportArchive(deployment: Deployment(config: context.config), logger: context.logger).store(report, files: written, at: context.now)
            archived = regions.isEmpty ? "not archived (no region holds a repository yet)" : "archived, encrypted, in \(regions.joined(separator: ", "))"
        }
        let bySeverity = Severity.allCases.map { s in "\(report.count(s)) \(s.rawValue)" }.joined(separator: ", ")
        var status: StepResult.Status = notYet.isEmpty ? .succeeded : .warning
        var summary = "\(report.totals.activeUsers) active users, \(report.totals.activeUsersWithMFA) with MFA; findings: \(bySeverity)"
        if !report.excepted.isEmpty { summary += "; \(report.excepted.count) excepted" }
        if !report.expiredExceptions.isEmpty { summary += "; \(report.expiredExceptions.count) exception(s) expired" }
        if let gate = failOn.flatMap(Severity.init(rawValue:)), report.count(atOrAbove: gate) > 0 {
            status = .failed
            summary += "; \(report.count(atOrAbove: gate)) at or above \(gate.rawValue) (fail_on)"
        }
        var figures: [String: Double] = ["findings": Double(report.findings.count), "active_users": Double(report.totals.activeUsers),
                                         "active_users_with_mfa": Double(report.totals.activeUsersWithMFA),
                                         "findings_excepted": Double(report.excepted.count)]
        for s in Severity.allCases { figures["findings_\(s.rawValue)"] = Double(report.count(s)) }
        return StepResult(step: Self.name, status: status, summary: summary, figures: figures,
                          details: written.map { "wrote \($0)" } + notYet.map { "format \($0) is not available in this version" } + (archived.map { [$0] } ?? []))
    }
}
