import Foundation
import LeafCompliance
import LeafConfig
import LeafDigest

/// leafguard's version, recorded in evidence.
public enum LeafguardVersion {
    public static let current = "0.1.0"
}

/// `manifest.json` beside a scan's outputs: what an auditor needs to trust them — which
/// tool and rules produced them, from which configuration, as of when, over how many rows,
/// and the SHA-256 of each file.
public struct EvidenceManifest: Codable, Sendable {
    public var kind = "compliance-evidence"
    public var tool = "leafguard"
    public var toolVersion = LeafguardVersion.current
    public var rulesVersion = ComplianceRule.rulesVersion
    public var asOf: String
    public var generatedAt: String
    public var configFile: String
    public var configSHA256: String
    public var settings: [String: Int]
    public var rowsRead: [String: Int]
    public var findings: Int
    public var excepted: Int
    /// The report's totals and per-rule counts: what the next scan's trend compares with.
    public var totals: ComplianceReport.Totals
    public var summary: [String: ComplianceReport.RuleSummary]
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
    public static func write(report: ComplianceReport, config: LeafguardConfig, outputs: [String], to directory: String) throws -> String {
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
        let path = directory + "/manifest.json"
        try (String(decoding: try e.encode(manifest), as: UTF8.self) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
