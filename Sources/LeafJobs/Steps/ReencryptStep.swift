import Foundation
import LeafConfig

/// Rewrites old data under fresh data keys, optionally into a new shard layout.
public struct ReencryptStep: JobStep {
    public static let name = "reencrypt"
    public static let summary = "fresh data keys and ciphertext for old data (older_than: 90d | data_key: ID, shards: {data, parity})"
    public let olderThan: TimeInterval?
    public let dataKey: String?
    public let shards: ShardLayout?

    public init?(parameters p: StepParameters) {
        olderThan = p.duration("older_than")
        dataKey = p["data_key"]?.string()
        var layout: ShardLayout?
        if let s = p["shards"] {
            guard let m = s.mapping() else { return nil }
            if let d = m.required("data")?.int(in: 1...32), let q = m.required("parity")?.int(in: 0...32) { layout = ShardLayout(data: d, parity: q) }
            m.finish()
        }
        shards = layout
        if olderThan == nil && dataKey == nil && p["older_than"] == nil {
            p.report("reencrypt needs 'older_than' or 'data_key' to say what to rewrite",
                     hint: "e.g. {reencrypt: {older_than: 180d}} or {reencrypt: {data_key: ID}}")
            return nil
        }
    }

    public func run(in context: StepContext) async throws -> StepResult {
        notYetAvailable(Self.name, "re-encryption and resharding")
    }
}
