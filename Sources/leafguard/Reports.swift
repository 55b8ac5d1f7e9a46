import ArgumentParser
import Foundation
import LeafConfig
import LeafFiles
import LeafJobs
import LeafRepository

extension Leafguard {
    /// `leafguard reports …`: scans archived in the regions.
    struct Reports: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Past compliance reports, kept encrypted in the regions.",
            subcommands: [List.self, Get.self])
    }
}

extension Leafguard.Reports {
    /// `leafguard reports list [--region R] [--json]`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List archived reports, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Region to read (default: primary).") var region: String?
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable { let id: String; let kind: String; let created: Date; let asOf: String; let figures: [String: Int]; let files: [String] }

        func run() throws {
            let (_, _, repo) = try global.openRegion(region)
            let rows = try repo.reportIDs().map { id -> Row in
                let r = try repo.loadReport(id)
                return Row(id: id.hex, kind: r.kind, created: r.created, asOf: r.asOf, figures: r.figures, files: r.files.keys.sorted())
            }
            if json { print(try jsonString(rows)); return }
            if rows.isEmpty { print("no reports archived yet"); return }
            for r in rows {
                let f = r.figures
                print(
                    "\(r.id.prefix(12))  \(r.kind)  as of \(r.asOf)  findings \(f["findings"] ?? 0) (critical \(f["critical"] ?? 0), high \(f["high"] ?? 0)), excepted \(f["excepted"] ?? 0)  \(r.files.joined(separator: " "))"
                )
            }
        }
    }

    /// `leafguard reports get ID --to DIR`.
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write an archived report's files into a folder.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The report id (or a unique prefix).") var id: String
        @Option(help: "Folder to write into.") var to: String
        @Option(help: "Region to read (default: primary).") var region: String?

        func run() throws {
            let (config, _, repo) = try global.openRegion(region)
            let matches = repo.reportIDs().filter { $0.hex.hasPrefix(id.lowercased()) }
            guard matches.count == 1 else {
                throw CommandFailure(
                    matches.isEmpty
                        ? "no archived report '\(id)'; see 'leafguard reports list'" : "'\(id)' matches \(matches.count) reports; give more of the id")
            }
            let dir = absolute(to, relativeTo: FileManager.default.currentDirectoryPath)
            try audited(config, action: "report.get", command: "reports get", objects: ["report \(matches[0].hex)", "to \(dir)"]) {
                let report = try repo.loadReport(matches[0])
                // The names come from the sealed report, which a client holding a data key
                // could forge: every one is checked before anything is written.
                let contents = try report.contents().sorted(by: { $0.key < $1.key })
                for (name, _) in contents {
                    do { try OutputFolder.checkName(name) } catch {
                        throw CommandFailure(
                            "report \(matches[0].short) names a file '\(name.prefix(80))', which is not a plain file name: the report is damaged or forged "
                                + "(run 'leafguard verify'); nothing was written")
                    }
                }
                let folder = try OutputFolder(dir)
                for (name, data) in contents {
                    try folder.write(name, [UInt8](data))
                    print("wrote \(folder.file(name))")
                }
            }
        }
    }
}
