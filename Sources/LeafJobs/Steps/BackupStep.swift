import Foundation
import LeafBackup
import LeafConfig
import LeafDeployment
import LeafRepository

/// Snapshots the planner data into a region: encrypted, erasure-coded, incremental.
public struct BackupStep: JobStep {
    /// The step's name in job files.
    public static let name = "backup"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "snapshot planner data into a region (region: REGION = primary)"
    /// The region the snapshot is written to (`region:`, `primary` by default).
    public let region: String

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        guard let r = p.region("region", default: p.config.primaryRegion.name) else { return nil }
        region = r
    }

    /// Takes a snapshot of the planner's database and documents and stores it in `region`.
    public func run(in context: StepContext) throws -> StepResult {
        let deployment = context.deployment
        if context.dryRun {
            _ = try deployment.masterKey()
            guard let repo = try? deployment.repository(region) else {
                return StepResult(
                    step: Self.name, status: .succeeded,
                    summary: "dry run: would create region '\(region)' and snapshot \(context.config.dataDirectory) into it whole")
            }
            let plan = try Backup(repository: repo, dataDirectory: context.config.dataDirectory, options: BackupOptions(scratchDirectory: "")).plan()
            let documents = plan.added.count + plan.changed.count
            return StepResult(
                step: Self.name, status: .succeeded,
                summary: "dry run: would snapshot \(context.config.dataDirectory) into '\(region)': "
                    + "\(documents) new or changed document(s) (\(Progress.format(plan.documentBytes, unit: "B"))), "
                    + "\(plan.unchanged) unchanged, \(plan.removed.count) no longer named, and the database's changed chunks "
                    + "(of \(Progress.format(plan.databaseBytes, unit: "B")))"
                    + (plan.previous.map { " against snapshot \($0)" } ?? "; the region has no snapshot yet"),
                figures: [
                    "documents_added": Double(plan.added.count), "documents_changed": Double(plan.changed.count),
                    "documents_unchanged": Double(plan.unchanged), "read_bytes_at_most": Double(plan.documentBytes + plan.databaseBytes),
                ],
                details: plan.added.map { "new: \($0.path) (\(Progress.format($0.size, unit: "B")))" }
                    + plan.changed.map { "changed: \($0.path) (\(Progress.format($0.size, unit: "B")))" }
                    + plan.removed.map { "no longer named: \($0)" } + plan.problems)
        }
        let repo = try deployment.repository(region, create: true)
        var options = BackupOptions(scratchDirectory: deployment.scratchDirectory)
        options.dataShards = context.config.shards.data
        options.parityShards = context.config.shards.parity
        options.job = context.job
        // The snapshot's id goes into the audit log before the snapshot is stored: the
        // region heads take in only snapshots so recorded (or another region's head lists).
        let trail = AuditTrail(deployment: deployment, logger: context.logger)
        let job = context.job
        options.beforeSnapshot = { id in
            try trail.recordSnapshotIntent(id.hex, region: region, job: job)
        }
        // A marker that outlives a killed run: the next run then looks for its packs.
        let marker = context.config.state.backupMarker(region)
        options.recoverInterruptedRun = FileManager.default.fileExists(atPath: marker)
        try FileManager.default.createDirectory(atPath: context.config.stateDirectory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: marker, contents: Data("\(getpid())\n".utf8))
        let progress = context.progress
        let result = try Backup(repository: repo, dataDirectory: context.config.dataDirectory, options: options) { phase, done, total in
            progress.update(phase, done: done, total: total > 0 ? total : nil)
        }.run()
        try? FileManager.default.removeItem(atPath: marker)
        let s = result.snapshot
        context.logger.debug(
            "backup phases",
            metadata: Dictionary(
                uniqueKeysWithValues: result.phases.map {
                    ($0.0.replacingOccurrences(of: " ", with: "_"), .string(String(format: "%.3f", $0.1)))
                }))
        let problems = s.problems.map { "\($0.path): \($0.problem) (\($0.detail))" }
        return StepResult(
            step: Self.name, status: problems.isEmpty ? .succeeded : .warning,
            summary: "snapshot \(s.id.short) in '\(region)': \(s.documents.count) documents + database, "
                + "\(Progress.format(s.totalBytes, unit: "B")) total, \(Progress.format(result.bytesAdded, unit: "B")) new in \(result.packsWritten) packs"
                + (problems.isEmpty ? "" : "; \(problems.count) document problem(s)"),
            figures: [
                "bytes_total": Double(s.totalBytes), "bytes_added": Double(result.bytesAdded),
                "bytes_stored": Double(result.bytesStored), "packs": Double(result.packsWritten),
                "blobs_added": Double(result.blobsAdded), "files_unchanged": Double(result.filesUnchanged),
                "documents": Double(s.documents.count), "problems": Double(problems.count),
                "packs_recovered": Double(result.packsRecovered),
            ],
            details: problems)
    }
}
