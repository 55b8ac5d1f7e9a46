import Foundation

/// Severities, most severe first.
public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case critical, high, medium, low
    var rank: Int { Severity.allCases.firstIndex(of: self)! }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank > b.rank }
}

/// The rules of shared/planner/compliance-rules.md, version 1, in its order.
public enum ComplianceRule: String, Codable, Sendable, CaseIterable {
    case mfaRequired = "MFA-REQUIRED", mfaOwner = "MFA-OWNER", mfaMissing = "MFA-MISSING", mfaSMSOnly = "MFA-SMS-ONLY"
    case pwdMissing = "PWD-MISSING", pwdPolicy = "PWD-POLICY", pwdHashLegacy = "PWD-HASH-LEGACY", pwdHashWeak = "PWD-HASH-WEAK"
    case accessOrphan = "ACCESS-ORPHAN", accessRole = "ACCESS-ROLE", accessBroad = "ACCESS-BROAD", accessDormant = "ACCESS-DORMANT"

    public static let rulesVersion = 1

    public var severity: Severity {
        switch self {
        case .mfaRequired, .pwdHashLegacy: return .critical
        case .mfaOwner, .pwdMissing, .pwdPolicy, .accessOrphan: return .high
        case .mfaSMSOnly, .pwdHashWeak, .accessRole, .accessBroad: return .medium
        case .mfaMissing, .accessDormant: return .low
        }
    }
}

/// Thresholds the rules leave to configuration.
public struct ComplianceSettings: Sendable, Equatable {
    public var argon2MinMemoryKiB = 19456
    public var argon2MinIterations = 2
    public var bcryptMinCost = 12
    public var dormancyDays = 180
    public init() {}
}

/// One finding. `accountID` is nil for rules that are one finding per user.
public struct Finding: Codable, Sendable, Equatable {
    public let rule: String
    public let severity: Severity
    public let accountID: Int64?
    public let userID: Int64
    public let detail: String

    enum CodingKeys: String, CodingKey { case rule, severity, detail, accountID = "account_id", userID = "user_id" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(severity, forKey: .severity)
        try c.encode(accountID, forKey: .accountID)   // null, not absent, for per-user rules
        try c.encode(userID, forKey: .userID)
        try c.encode(detail, forKey: .detail)
    }
}

/// The scan's machine-readable form (the shared JSON members and more).
public struct ComplianceReport: Codable, Sendable {
    public struct Totals: Codable, Sendable, Equatable {
        public var accounts = 0, users = 0, activeUsers = 0, activeUsersWithMFA = 0
        enum CodingKeys: String, CodingKey {
            case accounts, users, activeUsers = "active_users", activeUsersWithMFA = "active_users_with_mfa"
        }
    }
    public struct RuleSummary: Codable, Sendable, Equatable {
        public let severity: Severity
        public let count: Int
    }
    public var kind = "compliance-report"
    public var rulesVersion = ComplianceRule.rulesVersion
    public let asOf: String
    public let totals: Totals
    public let summary: [String: RuleSummary]
    public let findings: [Finding]
    /// Rows read per table, for auditors.
    public let rowsRead: [String: Int]

    enum CodingKeys: String, CodingKey {
        case kind, totals, summary, findings
        case rulesVersion = "rules_version", asOf = "as_of", rowsRead = "rows_read"
    }

    /// Findings at or above `severity`.
    public func count(atOrAbove severity: Severity) -> Int { findings.filter { $0.severity >= severity }.count }
}
