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

        func validate() throws {
            guard (0...100).contains(readData) else { throw ValidationError("--read-data takes a percentage from 0 to 100") }
            guard !acceptLoss || repair else { throw ValidationError("--accept-loss is a kind of repair: give --repair too") }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            try audited(
                config, action: "verify", command: "verify",
                objects: (region.map { ["region \($0)"] } ?? ["all regions"]) + (repair ? ["repair"] : []) + (acceptLoss ? ["accept loss"] : [])
            ) {
                try verify(config)
            }
        }

        func verify(_ config: LeafguardConfig) throws {
            let reports = try Verification(deployment: openDeployment(config))
                .run(regions: region.map { [$0] }, readPercent: readData, repair: repair, acceptLoss: acceptLoss)
            var unrepaired = 0
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
