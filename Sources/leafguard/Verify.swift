import ArgumentParser
import Foundation
import LeafConfig
import LeafDeployment
import LeafJobs

extension Leafguard {
    /// `leafguard verify [--region R] [--read-data[=PCT]] [--repair]`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check structure, authenticate data, and optionally repair; exit 1 while a problem remains unrepaired.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Region to check (default: every region).") var region: String?
        @Option(
            name: .customLong("read-data"),
            help: ArgumentHelp("Also authenticate PCT % of the packs, least recently read first; a bare --read-data reads all.", valueName: "PCT"))
        var readData: Int = 0
        @Flag(help: "Rebuild missing or corrupt shards from parity or the other region, writing before removing.") var repair = false
        @Flag(
            help: "With --repair: snapshots and indexes that vanished from every region are dropped from the region's signed head (recorded in the audit log).")
        var acceptLoss = false
        @Flag(help: "Print a JSON array, one object per region, with every problem.") var json = false

        struct Problem: Encodable {
            let location: String
            let object: String
            let kind: String
            let detail: String
            let snapshots: [String]
            let repaired: Bool
            let note: Bool
        }

        struct Region: Encodable {
            let region: String
            let snapshots: Int
            let packs: Int
            let packsRead: Int
            let shardsChecked: Int
            let unrepaired: Int
            let problems: [Problem]
            enum CodingKeys: String, CodingKey {
                case region, snapshots, packs, unrepaired, problems
                case packsRead = "packs_read"
                case shardsChecked = "shards_checked"
            }
        }

        func validate() throws {
            guard (0...100).contains(readData) else { throw ValidationError("--read-data takes a percentage from 0 to 100") }
            guard !acceptLoss || repair else { throw ValidationError("--accept-loss is a kind of repair: give --repair too") }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            // Problems found or repaired, and what the regions hold: the metrics say so at once.
            defer { refreshMetrics(config) }
            try audited(
                config, action: "verify", command: "verify",
                objects: (region.map { ["region \($0)"] } ?? ["all regions"]) + (repair ? ["repair"] : []) + (acceptLoss ? ["accept loss"] : [])
            ) {
                try verify(config)
            }
        }

        func verify(_ config: LeafguardConfig) throws {
            let progress = Progress()
            progress.begin()
            let reports = try Verification(deployment: openDeployment(config))
                .run(regions: region.map { [$0] }, readPercent: readData, repair: repair, acceptLoss: acceptLoss) { region, done, total in
                    progress.update("verify \(region)", done: done, total: total, unit: "packs")
                }
            progress.end()
            var unrepaired = 0
            if json {
                let rows = reports.map { r in
                    Region(
                        region: r.region, snapshots: r.report.snapshots, packs: r.report.packs, packsRead: r.report.packsRead,
                        shardsChecked: r.report.shardsChecked, unrepaired: r.report.unrepaired.count,
                        problems: r.report.problems.map {
                            Problem(
                                location: $0.location, object: $0.object, kind: $0.kind.rawValue, detail: $0.detail, snapshots: $0.snapshots,
                                repaired: $0.repaired, note: $0.isNote)
                        })
                }
                print(try jsonString(rows))
                if rows.contains(where: { $0.unrepaired > 0 }) { throw ExitCode(1) }
                return
            }
            for r in reports {
                let rep = r.report
                print(
                    "region '\(r.region)': \(rep.snapshots) snapshots, \(rep.packs) packs; structure checked, \(rep.packsRead) packs (\(rep.shardsChecked) shards) authenticated"
                )
                for p in rep.problems {
                    let verdict = p.repaired ? "repaired" : (p.isNote ? "note    " : "PROBLEM ")
                    print(
                        "  \(verdict) \(p.location): \(p.object): \(p.kind) (\(p.detail))"
                            + (p.snapshots.isEmpty ? "" : "; snapshots \(p.snapshots.joined(separator: ", "))"))
                }
                if rep.problems.isEmpty { print("  no problems") }
                unrepaired += rep.unrepaired.count
            }
            if unrepaired > 0 {
                print("\(unrepaired) problem(s) remain\(repair ? "" : "; run with --repair to rebuild from parity or the other region")")
                throw ExitCode(1)
            }
        }
    }
}
