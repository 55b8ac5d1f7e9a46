import Foundation
import LeafCompliance
import LeafRepository
import Logging

/// Keeps every scan's outputs, encrypted, in every region that holds a repository, so that
/// auditors can get the report of any past day (`leafguard reports list`, `reports get`).
public struct ReportArchive: Sendable {
    public let deployment: Deployment
    public let logger: Logger

    public init(deployment: Deployment, logger: Logger) { self.deployment = deployment; self.logger = logger }

    /// Stores the files of a compliance scan; returns the regions that hold it.
    @discardableResult
    public func store(_ report: ComplianceReport, files: [String], at: Date = Date()) -> [String] {
        var contents: [String: Data] = [:]
        for path in files { if let d = FileManager.default.contents(atPath: path) { contents[(path as NSString).lastPathComponent] = d } }
        var figures = ["findings": report.findings.count, "excepted": report.excepted.count]
        for s in Severity.allCases { figures[s.rawValue] = report.count(s) }
        let stored = StoredReport(kind: "compliance", created: at, asOf: report.asOf, figures: figures, files: contents)
        return deployment.forEachRepository(logger: logger, "store the report") { try $0.putReport(stored) }
    }
}
