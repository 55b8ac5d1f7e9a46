import Foundation
import LeafBackup
import LeafConfig
import LeafDeployment
import LeafRepository

/// Restores a snapshot into a scratch folder, checks it, records how long it took, and
/// removes the folder: proof that the backups restore, with the recovery time achieved.
public struct RestoreDrillStep: JobStep {
    /// The step's name in job files.
    public static let name = "restore-drill"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary =
        "restore a snapshot into a scratch folder and check it; record the recovery time (region: NAME|alternate, snapshot: latest|random)"
    /// nil: alternate, the region after the one drilled last.
    public let region: String?
    /// Whether a random snapshot is drilled rather than the latest (`snapshot: random`).
    public let randomSnapshot: Bool

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        if let v = p["region"], v.string() == "alternate" {
            region = nil
        } else {
            region = p.region("region")
            if p["region"] != nil && region == nil { return nil }
        }
        guard let which = p["snapshot"].map({ $0.choice(["latest", "random"]) }) ?? "latest" else { return nil }
        randomSnapshot = which == "random"
    }

    /// Restores into the state folder's scratch space, checks the result, records the drill and removes the folder.
    public func run(in context: StepContext) throws -> StepResult {
        let history = DrillHistory(stateDirectory: context.config.stateDirectory)
        let names = context.config.regionNames
        let target =
            region
            ?? {
                // The region after the one drilled last, in configuration order.
                guard let last = history.all().last?.region, let i = names.firstIndex(of: last) else { return names[0] }
                return names[(i + 1) % names.count]
            }()
        if context.dryRun {
            return StepResult(
                step: Self.name, status: .succeeded,
                summary: "dry run: would restore the \(randomSnapshot ? "a random" : "latest") snapshot of '\(target)' into a scratch folder and check it")
        }
        var record = DrillRecord(
            time: context.now, job: context.job, region: target, snapshot: nil, snapshotTime: nil,
            outcome: "failed", seconds: 0, files: 0, bytes: 0, detail: nil)
        let scratch = context.config.state.scratch + "/restore-drill-\(getpid())"
        let fm = FileManager.default
        try? fm.removeItem(atPath: scratch)
        defer { try? fm.removeItem(atPath: scratch) }
        let t0 = Date()
        do {
            let repo = try context.deployment.repository(target)
            // A snapshot no signed record accounts for (a compromised client's) is never drilled.
            let unrecorded = Set(context.deployment.unrecordedSnapshots(in: repo, logger: context.logger))
            let snapshots = try repo.snapshots().filter { !unrecorded.contains($0.id.hex) }
            // The latest is the last one written (the audit log's order), not the newest date.
            let latest = context.deployment.latestWritten(in: repo, logger: context.logger, unrecorded: unrecorded).flatMap { id in
                snapshots.first { $0.id == id }
            }
            guard let chosen = randomSnapshot ? snapshots.randomElement() : latest else {
                throw StepError("region '\(target)' holds no snapshot to restore")
            }
            record.snapshot = chosen.id.short
            record.snapshotTime = chosen.time
            try fm.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            // Restore checks every document against documents.sha256 (the snapshot's digests),
            // the database with integrity_check, and its row counts against the manifest.
            let result = try Restore(repository: repo) { what, done, total in context.progress.update(what, done: done, total: total) }
                .run(chosen, to: scratch, force: false)
            record.outcome = "succeeded"
            record.files = result.files
            record.bytes = result.bytes
            if !result.repairedAround.isEmpty { record.detail = "worked around \(result.repairedAround.count) damaged shard(s)" }
        } catch {
            record.detail = String("\(error)".prefix(500))
        }
        record.seconds = Date().timeIntervalSince(t0)
        try history.append(record)
        let what = "snapshot \(record.snapshot ?? "-") of '\(target)'"
        let figures: [String: Double] = [
            "recovery_seconds": record.seconds, "files": Double(record.files), "bytes": Double(record.bytes),
            "succeeded": record.outcome == "succeeded" ? 1 : 0,
        ]
        guard record.outcome == "succeeded" else {
            return StepResult(
                step: Self.name, status: .failed, summary: "drill of \(what) FAILED after \(String(format: "%.1f", record.seconds)) s: \(record.detail ?? "")",
                figures: figures, details: ["recorded in \(history.path)"])
        }
        return StepResult(
            step: Self.name, status: record.detail == nil ? .succeeded : .warning,
            summary:
                "restored \(what) (\(record.files) files, \(Progress.format(record.bytes, unit: "B"))) in \(String(format: "%.1f", record.seconds)) s; every document and the database checked; scratch folder removed",
            figures: figures, details: (record.detail.map { [$0] } ?? []) + ["recorded in \(history.path)"])
    }
}
