import Foundation
import LeafCompliance
import LeafDeployment
import LeafRepository
import Logging

/// Keeps every scan's outputs, encrypted, in every region that holds a repository, so that
/// auditors can get the report of any past day (`leafguard reports list`, `reports get`).
public struct ReportArchive: Sendable {
    /// The deployment whose regions keep the archive.
    public let deployment: Deployment
    /// Where problems storing a report are logged.
    public let logger: Logger

    /// The report archive of `deployment`.
    public init(deployment: Deployment, logger: Logger) { self.deployment = deployment; self.logger = logger }

    /// Stores the files of a compliance scan; returns the regions that hold it.
    @discardableResult
    public func store(_ report: ComplianceReport, files: [String], at: Date? = nil) -> [String] {
        let at = at ?? deployment.clock.now
        var figures = [
            "findings": report.findings.count, "excepted": report.excepted.count,
            "active_users": report.totals.activeUsers, "active_users_with_mfa": report.totals.activeUsersWithMFA,
        ]
        for s in Severity.allCases { figures[s.rawValue] = report.count(s) }
        // Compressed once, when the first region that holds a repository needs it.
        var stored: StoredReport?
        return deployment.forEachRepository(logger: logger, "store the report") { repo in
            let compressed = try stored ?? StoredReport.compressing(kind: "compliance", created: at, asOf: report.asOf, figures: figures, paths: files)
            stored = compressed
            try repo.putReport(compressed)
        }
    }
}
