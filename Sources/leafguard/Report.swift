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
        @Option(help: "Comma-separated formats: json, html, md.") var format = "md,json,html"
        @Option(help: "The folder of the latest compliance scan (default: reports/compliance beside the configuration).") var scan: String?
        @Option(help: "Exit 1 when any promise is at or below this verdict: fail or warn.") var failOn: String?
        @Option(help: .hidden) var now: String?

        func validate() throws {
            if let f = failOn, !["fail", "warn"].contains(f) { throw ValidationError("--fail-on must be fail or warn") }
            for f in format.split(separator: ",") where !["json", "html", "md"].contains(String(f)) {
                throw ValidationError("--format '\(f)' is not one of json, html, md")
            }
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
            let formats = format.split(separator: ",").map(String.init)
            if let out {
                for path in try PostureOutput.write(report, formats: formats, to: absolute(out, relativeTo: FileManager.default.currentDirectoryPath)) {
                    print("wrote \(path)")
                }
                print("posture: \(report.verdict.rawValue.uppercased())")
            } else {
                let f = formats.first ?? "md"
                print(
                    f == "json" ? try PostureOutput.json(report) : (f == "html" ? PostureOutput.html(report) : PostureOutput.markdown(report)), terminator: "")
            }
            if let gate = failOn.flatMap(Verdict.init(rawValue:)), report.verdict >= gate {
                printError("posture is \(report.verdict.rawValue) (--fail-on \(gate.rawValue))")
                throw ExitCode(1)
            }
        }
    }
}
