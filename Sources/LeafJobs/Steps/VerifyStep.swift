import Foundation
import LeafConfig
import LeafDeployment

/// Checks the repository's structure and authenticates data.
public struct VerifyStep: JobStep {
    /// The step's name in job files.
    public static let name = "verify"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "check structure and authenticate data (region, read_data: PERCENT, repair: BOOL)"
    /// The region checked (`region:`); nil checks every region.
    public let region: String?
    /// The share of packs read and authenticated in full, in percent (`read_data:`).
    public let readDataPercent: Int
    /// Whether damage found is repaired from the other copies (`repair:`).
    public let repair: Bool

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        region = p.region("region")
        if p["region"] != nil && region == nil { return nil }
        readDataPercent = p["read_data"]?.int(in: 0...100) ?? 0
        repair = p["repair"]?.bool() ?? false
    }

    /// Checks each region's structure, reads the chosen share of its data and reports every problem.
    public func run(in context: StepContext) throws -> StepResult {
        if context.dryRun {
            return StepResult(step: Self.name, status: .succeeded, summary: "dry run: would verify \(region ?? "every region")")
        }
        let reports = try Verification(deployment: context.deployment)
            .run(regions: region.map { [$0] }, readPercent: readDataPercent, repair: repair, now: context.now) { region, done, total in
                context.progress.update("verify \(region)", done: done, total: total, unit: "packs")
            }
        let unrepaired = reports.flatMap { $0.report.unrepaired }
        let all = reports.flatMap { r in r.report.problems.map { (r.region, $0) } }
        return StepResult(
            step: Self.name, status: unrepaired.isEmpty ? (all.isEmpty ? .succeeded : .warning) : .failed,
            summary: reports.map { r in
                "'\(r.region)': \(r.report.snapshots) snapshots, \(r.report.packs) packs, \(r.report.packsRead) read, "
                    + "\(r.report.problems.count) problem(s), \(r.report.problems.filter(\.repaired).count) repaired"
            }.joined(separator: "; "),
            figures: [
                "packs": Double(reports.reduce(0) { $0 + $1.report.packs }),
                "packs_read": Double(reports.reduce(0) { $0 + $1.report.packsRead }),
                "problems": Double(all.count), "unrepaired": Double(unrepaired.count),
            ],
            details: all.map { region, p in
                "\(p.repaired ? "repaired" : (p.isNote ? "note" : "PROBLEM")): \(p.location): \(p.object): \(p.kind) (\(p.detail))"
                    + (p.snapshots.isEmpty ? "" : "; snapshots \(p.snapshots.joined(separator: ", "))")
            })
    }
}
