import ArgumentParser
import Foundation
import LeafCompliance
import LeafConfig
import LeafJobs
import LeafReports
import Logging

extension Leafguard {
    /// `leafguard scan [--as-of T] [--out DIR] [--format json,csv,html,md] [--fail-on SEVERITY]`.
    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scan planner accounts for MFA, password-policy and access compliance (shared/planner/compliance-rules.md).")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Judge as of this instant (ISO 8601; default now).") var asOf: String?
        @Option(help: "Write compliance.<format> files here; without it, JSON goes to standard output.") var out: String?
        @Option(help: "Comma-separated formats: json, csv, html, md.") var format = CommaList<ScanFormat>(ScanFormat.allCases)
        @Option(help: "Exit 1 when an unexcepted finding at or above this severity exists: critical, high, medium, low.") var failOn: Severity?

        func validate() throws {
            if let a = asOf, parseInstant(a) == nil { throw ValidationError("--as-of '\(a)' is not ISO 8601, e.g. 2026-11-29T02:15:00Z") }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            try audited(config, action: "scan", command: "scan", objects: out.map { ["to \($0)"] } ?? ["standard output"]) { try scan(config) }
        }

        func scan(_ config: LeafguardConfig) throws {
            let when = asOf.flatMap(parseInstant) ?? Date()
            let report: ComplianceReport
            do {
                report = try ComplianceScanner(
                    databasePath: config.dataDirectory + "/planner.db", settings: config.complianceSettings,
                    exceptions: config.complianceExceptions
                ).scan(asOf: when)
            } catch let e as ComplianceError {
                throw CommandFailure(e.message)
            }
            if let out {
                let dir = absolute(out, relativeTo: FileManager.default.currentDirectoryPath)
                let written = try ScanOutputs.write(report, formats: format.elements, to: dir, config: config)
                for path in written { print("wrote \(path)") }
                let regions = ReportArchive(deployment: openDeployment(config), logger: Logger(label: "leafguard")).store(report, files: written)
                if !regions.isEmpty { print("archived, encrypted, in \(regions.joined(separator: ", ")) (leafguard reports list)") }
            } else {
                let sink = ReportSink.standardOutput()
                try ComplianceOutput.writeJSON(report, to: sink)
                try sink.finish()
            }
            ScanOutputs.learn(report, config.state)
            refreshMetrics(config, learnRegions: false)
            if let gate = failOn, report.count(atOrAbove: gate) > 0 {
                printError("\(report.count(atOrAbove: gate)) finding(s) at or above \(gate.rawValue)")
                throw ExitCode(1)
            }
        }
    }
}
