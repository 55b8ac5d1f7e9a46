import Foundation

/// Severities, most severe first.
public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case critical, high, medium, low
    var rank: Int { Severity.allCases.firstIndex(of: self) ?? 0 }
    /// Orders by severity: critical is the greatest.
    public static func < (a: Severity, b: Severity) -> Bool { a.rank > b.rank }
}

/// The rules of shared/planner/compliance-rules.md, version 1, in its order.
public enum ComplianceRule: String, Codable, Sendable, CaseIterable {
    case mfaRequired = "MFA-REQUIRED"
    case mfaOwner = "MFA-OWNER"
    case mfaMissing = "MFA-MISSING"
    case mfaSMSOnly = "MFA-SMS-ONLY"
    case pwdMissing = "PWD-MISSING"
    case pwdPolicy = "PWD-POLICY"
    case pwdHashLegacy = "PWD-HASH-LEGACY"
    case pwdHashWeak = "PWD-HASH-WEAK"
    case accessOrphan = "ACCESS-ORPHAN"
    case accessRole = "ACCESS-ROLE"
    case accessBroad = "ACCESS-BROAD"
    case accessDormant = "ACCESS-DORMANT"

    /// The version of compliance-rules.md these rules implement.
    public static let rulesVersion = 1

    /// The rule's severity, as compliance-rules.md gives it.
    public var severity: Severity {
        switch self {
        case .mfaRequired, .pwdHashLegacy: return .critical
        case .mfaOwner, .pwdMissing, .pwdPolicy, .accessOrphan: return .high
        case .mfaSMSOnly, .pwdHashWeak, .accessRole, .accessBroad: return .medium
        case .mfaMissing, .accessDormant: return .low
        }
    }

    /// The SOC 2 common criteria a finding of this rule is evidence about: CC6.1 logical
    /// access security (authentication), CC6.2 granting and removing access, CC6.3 least
    /// privilege.
    public var controls: [String] {
        switch self {
        case .mfaRequired, .mfaOwner, .mfaMissing, .mfaSMSOnly, .pwdMissing, .pwdPolicy, .pwdHashLegacy, .pwdHashWeak: return ["CC6.1"]
        case .accessOrphan: return ["CC6.2", "CC6.3"]
        case .accessRole, .accessBroad: return ["CC6.3"]
        case .accessDormant: return ["CC6.2", "CC6.3"]
        }
    }

    /// Where leafplanner's promise and NIST SP 800-63B part ways, for auditors.
    public static let nistNote =
        "NIST SP 800-63B asks verifiers not to impose composition rules (mixtures of character types) and to screen passwords against lists of known-compromised values instead; leafplanner's page promises at least 12 characters mixing lower and upper case, digits and symbols, so PWD-POLICY checks that composition rule as promised, which is stricter in form than, and not the same as, 800-63B's guidance."
}

/// An accepted risk: a finding of `rule` for `userID` (in `accountID`, or in every account
/// when nil) is "excepted" until `expires`, and listed apart.
public struct ComplianceException: Codable, Sendable, Equatable {
    /// The rule id it excepts (e.g. `MFA-OWNER`).
    public let rule: String
    /// The account it is limited to; nil for every account.
    public let accountID: Int64?
    /// The user it covers.
    public let userID: Int64
    /// Who accepted the risk.
    public let owner: String
    /// Why the risk is accepted.
    public let reason: String
    /// When it ends: past this instant its findings count again.
    public let expires: Date

    /// An exception with every field given.
    public init(rule: String, accountID: Int64?, userID: Int64, owner: String, reason: String, expires: Date) {
        self.rule = rule; self.accountID = accountID; self.userID = userID; self.owner = owner; self.reason = reason; self.expires = expires
    }

    func covers(_ f: Finding) -> Bool { f.rule == rule && f.userID == userID && (accountID == nil || accountID == f.accountID) }

    enum CodingKeys: String, CodingKey {
        case rule, owner, reason, expires
        case accountID = "account_id"
        case userID = "user_id"
    }
}

/// A finding an exception covers, with the exception.
public struct ExceptedFinding: Codable, Sendable, Equatable {
    /// The finding.
    public let finding: Finding
    /// The exception in force that covers it.
    public let exception: ComplianceException
}

/// Thresholds the rules leave to configuration.
public struct ComplianceSettings: Sendable, Equatable {
    /// The least Argon2id memory, in KiB, a password hash may use (PWD-HASH-WEAK).
    public var argon2MinMemoryKiB = 19456
    /// The fewest Argon2id iterations a password hash may use (PWD-HASH-WEAK).
    public var argon2MinIterations = 2
    /// The least bcrypt cost a password hash may use (PWD-HASH-WEAK).
    public var bcryptMinCost = 12
    /// Days without a login after which access is dormant (ACCESS-DORMANT).
    public var dormancyDays = 180
    /// The defaults of compliance-rules.md.
    public init() {}
}

/// One finding. `accountID` is nil for rules that are one finding per user.
public struct Finding: Codable, Sendable, Equatable {
    /// The rule id (e.g. `MFA-REQUIRED`).
    public let rule: String
    /// The rule's severity.
    public let severity: Severity
    /// The account; nil for a rule that is one finding per user.
    public let accountID: Int64?
    /// The user.
    public let userID: Int64
    /// What is wrong, in words for the people who fix it.
    public let detail: String

    enum CodingKeys: String, CodingKey {
        case rule, severity, detail
        case accountID = "account_id"
        case userID = "user_id"
    }

    /// A finding with every field given.
    public init(rule: String, severity: Severity, accountID: Int64?, userID: Int64, detail: String) {
        self.rule = rule; self.severity = severity; self.accountID = accountID; self.userID = userID; self.detail = detail
    }

    /// Encodes `account_id` as null, not absent, for per-user rules.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(severity, forKey: .severity)
        try c.encode(accountID, forKey: .accountID)  // null, not absent, for per-user rules
        try c.encode(userID, forKey: .userID)
        try c.encode(detail, forKey: .detail)
    }
}

/// The scan's machine-readable form (the shared JSON members and more).
public struct ComplianceReport: Codable, Sendable {
    /// Counts of accounts and users, and of active users with MFA (for the adoption trend).
    public struct Totals: Codable, Sendable, Equatable {
        public var accounts = 0, users = 0, activeUsers = 0, activeUsersWithMFA = 0
        enum CodingKeys: String, CodingKey {
            case accounts, users
            case activeUsers = "active_users"
            case activeUsersWithMFA = "active_users_with_mfa"
        }
    }
    /// One rule's severity and number of findings.
    public struct RuleSummary: Codable, Sendable, Equatable {
        /// The rule's severity.
        public let severity: Severity
        /// Its findings (unexcepted).
        public let count: Int
    }
    /// Always `compliance-report`.
    public var kind = "compliance-report"
    /// The version of the rules applied.
    public var rulesVersion = ComplianceRule.rulesVersion
    /// The instant judged (ISO 8601).
    public let asOf: String
    /// Accounts and users counted.
    public let totals: Totals
    /// Per rule id: severity and count, zero counts included.
    public var summary: [String: RuleSummary]
    /// Every finding not covered by an exception in force.
    public var findings: [Finding]
    /// Rows read per table, for auditors.
    public let rowsRead: [String: Int]
    /// Findings moved out of `findings` by an exception in force at `as_of`.
    public var excepted: [ExceptedFinding] = []
    /// Exceptions that had expired by `as_of` (their findings are back in `findings`).
    public var expiredExceptions: [ComplianceException] = []
    /// Rule → SOC 2 criteria it evidences.
    public var controls: [String: [String]] = Dictionary(uniqueKeysWithValues: ComplianceRule.allCases.map { ($0.rawValue, $0.controls) })
    /// Notes for the reader (the NIST guidance the password rules follow).
    public var notes: [String] = [ComplianceRule.nistNote]

    enum CodingKeys: String, CodingKey {
        case kind, totals, summary, findings, excepted, controls, notes
        case rulesVersion = "rules_version"
        case asOf = "as_of"
        case rowsRead = "rows_read"
        case expiredExceptions = "expired_exceptions"
    }

    // swift-format-ignore: NeverForceUnwrap
    // CodingUserInfoKey's initialiser is failable in name only: it accepts every string.
    /// Set in an encoder's userInfo to leave `findings` out (the JSON writer streams them).
    public static let withoutFindings = CodingUserInfoKey(rawValue: "leafguard.withoutFindings")!

    /// Encodes the report in its documented member order, without `findings` when `withoutFindings` is set.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(rulesVersion, forKey: .rulesVersion)
        try c.encode(asOf, forKey: .asOf)
        try c.encode(totals, forKey: .totals)
        try c.encode(summary, forKey: .summary)
        if encoder.userInfo[Self.withoutFindings] as? Bool != true { try c.encode(findings, forKey: .findings) }
        try c.encode(rowsRead, forKey: .rowsRead)
        try c.encode(excepted, forKey: .excepted)
        try c.encode(expiredExceptions, forKey: .expiredExceptions)
        try c.encode(controls, forKey: .controls)
        try c.encode(notes, forKey: .notes)
    }

    /// Moves findings that an exception in force at `asOf` covers to `excepted`, recounting
    /// the summary; lists expired exceptions apart.
    public mutating func apply(_ exceptions: [ComplianceException], asOf: Date) {
        let live = exceptions.filter { $0.expires > asOf }
        expiredExceptions = exceptions.filter { $0.expires <= asOf }
        guard !live.isEmpty else { return }
        var open: [Finding] = []
        for f in findings {
            if let e = live.first(where: { $0.covers(f) }) { excepted.append(ExceptedFinding(finding: f, exception: e)) } else { open.append(f) }
        }
        findings = open
        summary = Self.summary(of: open)
    }

    /// Every rule with its count of `findings`, in one pass.
    public static func summary(of findings: [Finding]) -> [String: RuleSummary] {
        var counts: [String: Int] = [:]
        for f in findings { counts[f.rule, default: 0] += 1 }
        var out: [String: RuleSummary] = [:]
        for r in ComplianceRule.allCases { out[r.rawValue] = .init(severity: r.severity, count: counts[r.rawValue] ?? 0) }
        return out
    }

    /// Findings of `severity`, without copying any.
    public func count(_ severity: Severity) -> Int { findings.reduce(0) { $0 + ($1.severity == severity ? 1 : 0) } }

    /// Findings at or above `severity`.
    public func count(atOrAbove severity: Severity) -> Int { findings.reduce(0) { $0 + ($1.severity >= severity ? 1 : 0) } }
}
