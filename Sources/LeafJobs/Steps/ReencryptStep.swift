import Foundation
import LeafConfig
import LeafRepository

/// Rewrites old data under fresh data keys, optionally into a new shard layout.
public struct ReencryptStep: JobStep {
    /// The step's name in job files.
    public static let name = "reencrypt"
    /// What the step does and its parameters, in one line (`jobs steps` lists it).
    public static let summary = "fresh data keys and ciphertext for old data (older_than: 90d | data_key: ID, shards: {data, parity})"
    /// Re-encrypt packs sealed longer ago than this (`older_than:`).
    public let olderThan: TimeInterval?
    /// Re-encrypt the packs sealed under this data key (`data_key:`).
    public let dataKey: ObjectID?
    /// The shard layout the packs are written in anew (`shards:`); nil keeps the configured one.
    public let shards: ShardLayout?

    /// Reads the step's parameters from a job file; nil after recording a located problem.
    public init?(parameters p: StepParameters) {
        olderThan = p.duration("older_than")
        var key: ObjectID?
        if let v = p["data_key"] {
            guard let text = v.string(), let id = ObjectID(hex: text.lowercased()) else {
                v.report("data_key must be a data key's full id (32 hex digits)", hint: "e.g. {reencrypt: {data_key: 0123456789abcdef0123456789abcdef}}")
                return nil
            }
            key = id
        }
        dataKey = key
        var layout: ShardLayout?
        if let s = p["shards"] {
            guard let m = s.mapping() else { return nil }
            if let d = m.required("data")?.int(in: 1...32), let q = m.required("parity")?.int(in: 0...32) { layout = ShardLayout(data: d, parity: q) }
            m.finish()
        }
        shards = layout
        if olderThan == nil && dataKey == nil && p["older_than"] == nil {
            p.report(
                "reencrypt needs 'older_than' or 'data_key' to say what to rewrite",
                hint: "e.g. {reencrypt: {older_than: 180d}} or {reencrypt: {data_key: ID}}")
            return nil
        }
    }

    /// Writes the selected packs anew under fresh data keys, in every region.
    public func run(in context: StepContext) throws -> StepResult {
        let deployment = context.deployment
        let layout = shards ?? context.config.shards
        let selection = ReencryptSelection(olderThan: olderThan, dataKey: dataKey, now: context.now)
        var lines: [String] = []
        var details: [String] = []
        var figures: [String: Double] = ["packs_rewritten": 0, "bytes_read": 0, "bytes_written": 0, "snapshots_resealed": 0]
        var seconds = 0.0
        for region in context.config.regionNames {
            guard let r = context.config.region(named: region) else { continue }
            guard r.locations >= layout.total else {
                throw StepError(
                    "region '\(region)' has \(r.locations) locations but \(layout) shards need \(layout.total); add locations to it in \(context.config.file) first"
                )
            }
            let repo: Repository
            do { repo = try deployment.repository(region) } catch RepositoryError.notInitialized { continue }
            // Locations added for resharding receive the keyring with the other replicated objects.
            if !context.dryRun { try deployment.publishKeyring(to: region) }
            let result = try repo.reencrypt(selection, dataShards: layout.data, parityShards: layout.parity, workers: 4, dryRun: context.dryRun) {
                done, total in
                context.progress.update("re-encrypting \(region)", done: done, total: total)
            }
            seconds += result.seconds
            if context.dryRun {
                lines.append(
                    "'\(region)': would rewrite \(result.packsSelected - result.packsAlreadyDone) of \(result.packsSelected) selected packs (\(Progress.format(result.bytesRead, unit: "B"))) as \(layout)"
                )
                continue
            }
            lines.append(
                "'\(region)': \(result.packsRewritten) packs re-encrypted as \(result.layout) (\(Progress.format(result.bytesRead, unit: "B")))"
                    + (result.packsAlreadyDone > 0 ? ", \(result.packsAlreadyDone) finished from an interrupted run" : "")
                    + ", \(result.snapshotsResealed) snapshots re-sealed")
            details.append(
                "\(region): \(result.packsSelected) packs selected, \(result.packsRewritten) rewritten and read back, \(result.oldShardsRemoved) old shards removed, "
                    + "\(result.leftoverShardsRemoved) leftover shards of interrupted runs removed, \(result.reportsResealed) reports re-sealed, "
                    + "\(result.dataKeysRemoved) replaced data keys removed, \(String(format: "%.2f", result.seconds)) s")
            figures["packs_rewritten", default: 0] += Double(result.packsRewritten)
            figures["bytes_read", default: 0] += Double(result.bytesRead)
            figures["bytes_written", default: 0] += Double(result.bytesWritten)
            figures["snapshots_resealed", default: 0] += Double(result.snapshotsResealed)
        }
        if seconds > 0 { figures["bytes_per_second"] = (figures["bytes_read"] ?? 0) / seconds }
        return StepResult(
            step: Self.name, status: .succeeded,
            summary: (context.dryRun ? "dry run: " : "") + (lines.isEmpty ? "no region holds data" : lines.joined(separator: "; ")),
            figures: figures, details: details)
    }
}
