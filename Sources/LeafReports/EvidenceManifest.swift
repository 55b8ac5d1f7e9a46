import Foundation
import LeafCompliance
import LeafConfig
import LeafDigest
import LeafFiles

/// leafguard's version, recorded in evidence.
public enum LeafguardVersion {
    /// The version string.
    public static let current = "0.1.0"
}

/// `manifest.json` beside a scan's outputs: what an auditor needs to trust them — which
/// tool and rules produced them, from which configuration, as of when, over how many rows,
/// and the SHA-256 of each file.
public struct EvidenceManifest: Codable, Sendable {
    /// Always `compliance-evidence`.
    public var kind = "compliance-evidence"
    /// Always `leafguard`.
    public var tool = "leafguard"
    /// The version of leafguard that wrote the outputs.
    public var toolVersion = LeafguardVersion.current
    /// The version of the rules of compliance-rules.md applied.
    public var rulesVersion = ComplianceRule.rulesVersion
    /// The instant the scan judged the data as of (ISO 8601).
    public var asOf: String
    /// When the manifest was written (ISO 8601).
    public var generatedAt: String
    /// The configuration file the settings and exceptions came from.
    public var configFile: String
    /// That file's SHA-256: which thresholds and exceptions were in force.
    public var configSHA256: String
    /// The thresholds applied (argon2, bcrypt, dormancy).
    public var settings: [String: Int]
    /// Rows read per planner table.
    public var rowsRead: [String: Int]
    /// Findings in all, excepted ones included.
    public var findings: Int
    /// Findings an exception in force covers.
    public var excepted: Int
    /// The report's totals and per-rule counts: what the next scan's trend compares with.
    public var totals: ComplianceReport.Totals
    /// Per rule: its severity and how many findings.
    public var summary: [String: ComplianceReport.RuleSummary]
    /// Each output file's name and SHA-256.
    public var outputs: [String: String]

    enum CodingKeys: String, CodingKey {
        case kind, tool, settings, findings, excepted, outputs, totals, summary
        case toolVersion = "tool_version"
        case rulesVersion = "rules_version"
        case asOf = "as_of"
        case generatedAt = "generated_at"
        case configFile = "config_file"
        case configSHA256 = "config_sha256"
        case rowsRead = "rows_read"
    }

    /// Writes `manifest.json` into `directory` for the given output files; returns its path.
    @discardableResult
    public static func write(report: ComplianceReport, config: LeafguardConfig, outputs: [String], to folder: OutputFolder) throws -> String {
        var digests: [String: String] = [:]
        for path in outputs { digests[(path as NSString).lastPathComponent] = try SHA256.hash(fileAt: path).hexString }
        let s = config.complianceSettings
        let manifest = EvidenceManifest(
            asOf: report.asOf, generatedAt: ISO8601DateFormatter().string(from: Date()), configFile: config.file,
            configSHA256: (try? SHA256.hash(fileAt: config.file).hexString) ?? "unreadable",
            settings: [
                "argon2_min_memory_kib": s.argon2MinMemoryKiB, "argon2_min_iterations": s.argon2MinIterations,
                "bcrypt_min_cost": s.bcryptMinCost, "dormancy_days": s.dormancyDays,
            ],
            rowsRead: report.rowsRead, findings: report.findings.count, excepted: report.excepted.count,
            totals: report.totals, summary: report.summary, outputs: digests)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try folder.write("manifest.json", text: String(decoding: try e.encode(manifest), as: UTF8.self) + "\n")
        return folder.file("manifest.json")
    }
}
