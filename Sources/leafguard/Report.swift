import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs
import LeafReports

extension Leafguard {
    /// `leafguard report [--out DIR] [--format json,html,md] [--fail-on fail|warn]`.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The posture report: each promise of the security page with its live evidence and a pass, warn or fail verdict.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Write posture.<format> files here; without it, the first format goes to standard output.") var out: String?
        @Option(help: "Comma-separated formats: json, html, md.") var format = CommaList<PostureFormat>([.md, .json, .html])
        @Option(help: "The folder of the latest compliance scan (default: reports/compliance beside the configuration).") var scan: String?
        @Option(help: "Exit 1 when any promise is at or below this verdict: fail or warn.") var failOn: Verdict?
        @Option(help: .hidden) var now: String?

        func validate() throws {
            if failOn == .pass { throw ValidationError("--fail-on must be fail or warn (every report is at least pass)") }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let base = (config.file as NSString).deletingLastPathComponent
            let scanDir = absolute(scan ?? "reports/compliance", relativeTo: scan == nil ? base : FileManager.default.currentDirectoryPath)
            let when = now.flatMap(parseInstant) ?? Date()
            let report = try audited(config, action: "report", command: "report", objects: [out.map { "to \($0)" } ?? "standard output"]) {
                PostureCollector(deployment: openDeployment(config), now: when, scanDirectory: scanDir).collect()
            }
            refreshMetrics(config, learnRegions: false)
            let formats = format.elements
            if let out {
                for path in try PostureOutput.write(report, formats: formats, to: absolute(out, relativeTo: FileManager.default.currentDirectoryPath)) {
                    print("wrote \(path)")
                }
                print("posture: \(report.verdict.rawValue.uppercased())")
            } else {
                print(try PostureOutput.text(report, formats.first ?? .md), terminator: "")
            }
            if let gate = failOn, report.verdict >= gate {
                printError("posture is \(report.verdict.rawValue) (--fail-on \(gate.rawValue))")
                throw ExitCode(1)
            }
        }
    }
}
