import Foundation
import LeafSQLite

/// Why a scan could not run.
public struct ComplianceError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, naming the file.
    public let message: String
    /// The message.
    public var description: String { message }
}

/// Judges planner data against the compliance rules as of one instant. Reads the live
/// database read-only, in one read transaction (WAL: the application is never blocked).
public struct ComplianceScanner: Sendable {
    /// The planner database judged (opened read-only).
    public let databasePath: String
    /// The thresholds applied (leafguard.yml's `compliance:`).
    public let settings: ComplianceSettings
    /// The accepted risks: findings they cover move to `excepted` while they are in force.
    public let exceptions: [ComplianceException]

    /// A scanner of `databasePath` with `settings` and `exceptions`.
    public init(databasePath: String, settings: ComplianceSettings = ComplianceSettings(), exceptions: [ComplianceException] = []) {
        self.databasePath = databasePath; self.settings = settings; self.exceptions = exceptions
    }

    static let sections: Set<String> = ["finances", "insurance", "legal", "medical", "property", "contacts", "wishes", "digital"]

    /// Judges every rule as of `asOf`, in one read transaction; throws when the database is missing or unreadable.
    public func scan(asOf: Date) throws -> ComplianceReport {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw ComplianceError(message: "no planner database at \(databasePath)")
        }
        let db = try Database(path: databasePath, mode: .readOnly)
        var report = try db.transaction("DEFERRED") { try evaluate(db, asOf: asOf) }
        report.apply(exceptions, asOf: asOf)
        return report
    }

    /// Reads the tables into compact per-user and per-pair facts (no row is kept as
    /// strings: a million users fit in a few dozen megabytes), then applies the rules in
    /// the order the report lists findings.
    func evaluate(_ db: Database, asOf: Date) throws -> ComplianceReport {
        let t = try PlannerAccessTables.read(db)
        var findings: [Finding] = []
        findings.reserveCapacity(t.users.count)
        func add(_ rule: ComplianceRule, _ account: Int64?, _ user: Int64, _ detail: String) {
            findings.append(Finding(rule: rule.rawValue, severity: rule.severity, accountID: account, userID: user, detail: detail))
        }
        let users = t.users
        func isActive(_ i: Int) -> Bool { users.status[i] == .active }

        // MFA.
        var namedByMFARules = [Bool](repeating: false, count: users.count)
        for m in t.additionalMembersOfMFAAccounts {
            guard let i = users.index(of: m.user), isActive(i), users.factors[i] == 0 else { continue }
            add(.mfaRequired, m.account, m.user, "\(m.role.name) of an account whose owner requires MFA has no verified factor")
            namedByMFARules[i] = true
        }
        for i in 0..<users.count where isActive(i) && users.factors[i] == 0 && users.owns[i] {
            add(.mfaOwner, nil, users.ids[i], "owns an account and has no verified factor"); namedByMFARules[i] = true
        }
        for i in 0..<users.count where isActive(i) && users.factors[i] == 0 && !namedByMFARules[i] {
            add(.mfaMissing, nil, users.ids[i], "no verified second factor")
        }
        for i in 0..<users.count where isActive(i) && users.factors[i] == PlannerAccessTables.Users.smsFactor {
            add(.mfaSMSOnly, nil, users.ids[i], "SMS is the only verified factor")
        }

        // Passwords.
        let weaker = t.policies.weakerThanCurrent(asOf: asOf)
        for i in 0..<users.count where isActive(i) {
            let u = users.ids[i]
            let c = users.credentials[i]
            if c.hash == .none { add(.pwdMissing, nil, u, "no password credential"); continue }
            if weaker.contains(c.policy) {
                add(.pwdPolicy, nil, u, "password set under policy version \(c.policy), weaker than the current policy")
            }
            switch c.hash {
            case .legacySHA1: add(.pwdHashLegacy, nil, u, "password hash is a legacy format (sha1)")
            case .legacyMD5: add(.pwdHashLegacy, nil, u, "password hash is a legacy format (md5)")
            case .legacyDigest: add(.pwdHashLegacy, nil, u, "password hash is a legacy format (unsalted digest)")
            case .argon2i: add(.pwdHashWeak, nil, u, "argon2i, not argon2id")
            case .argon2id:
                if c.m < settings.argon2MinMemoryKiB || c.t < settings.argon2MinIterations {
                    add(
                        .pwdHashWeak, nil, u,
                        "argon2id with m=\(c.m < 0 ? "?" : String(c.m)) KiB, t=\(c.t < 0 ? "?" : String(c.t)) (minimum m=\(settings.argon2MinMemoryKiB), t=\(settings.argon2MinIterations))"
                    )
                }
            case .bcrypt:
                if c.m >= 0 && c.m < settings.bcryptMinCost { add(.pwdHashWeak, nil, u, "bcrypt cost \(c.m) (minimum \(settings.bcryptMinCost))") }
            case .none: break
            }
        }

        // Access, one (account, user) pair at a time in that order.
        let dormancy = Double(settings.dormancyDays) * 86400
        let asOfSeconds = asOf.timeIntervalSince1970
        for g in t.grantHolders {
            let (a, u) = (g.account, g.user)
            let role = g.role
            let i = users.index(of: u)
            let disabled = i.map { users.status[$0] == .disabled } ?? false
            if role == nil || disabled {
                add(
                    .accessOrphan, a, u,
                    role == nil ? "holds \(g.count) grant(s) in an account it is not a member of" : "disabled user holds \(g.count) grant(s)")
            }
            let writes = g.writeSections
            if let role, role == .viewer || role == .executor, !writes.isEmpty {
                add(.accessRole, a, u, "\(role.name) holds write on \(writes.joined(separator: ", "))")
            }
            let additional = role.map { !$0.isOwner } ?? false
            if additional && g.writesAllSections {
                add(.accessBroad, a, u, "write on all eight sections")
            }
            if let i, isActive(i), additional, !writes.isEmpty {
                let last = users.lastLogin[i]
                if last.isNaN || asOfSeconds - last > dormancy {
                    add(
                        .accessDormant, a, u,
                        last.isNaN
                            ? "holds write access and has never logged in"
                            : "holds write access; last login more than \(settings.dormancyDays) days before as_of")
                }
            }
        }

        let summary = ComplianceReport.summary(of: findings)
        var active = 0
        var withMFA = 0
        for i in 0..<users.count where isActive(i) { active += 1; if users.factors[i] != 0 { withMFA += 1 } }
        let f = ISO8601DateFormatter()
        return ComplianceReport(
            asOf: f.string(from: asOf),
            totals: .init(accounts: t.accountCount, users: users.count, activeUsers: active, activeUsersWithMFA: withMFA),
            summary: summary, findings: findings, rowsRead: t.rowsRead)
    }

    /// "YYYY-MM-DDTHH:MM:SSZ" (optionally with fractional seconds) as a Date; nil for any other form.
    public static func fastISODate(_ s: String) -> Date? {
        var copy = s
        return copy.withUTF8 { fastISOSeconds(UnsafeRawBufferPointer($0)) }.map(Date.init(timeIntervalSince1970:))
    }

    /// `fastISODate` on bytes, as seconds since 1970.
    static func fastISOSeconds(_ bytes: UnsafeRawBufferPointer) -> Double? {
        var u = bytes.makeIterator()
        func num(_ n: Int) -> Int? {
            var v = 0
            for _ in 0..<n { guard let c = u.next(), c >= 48, c <= 57 else { return nil }; v = v * 10 + Int(c - 48) }
            return v
        }
        func expect(_ ch: UInt8) -> Bool { u.next() == ch }
        guard let y = num(4), expect(45), let mo = num(2), expect(45), let d = num(2), expect(84),
            let h = num(2), expect(58), let mi = num(2), expect(58), let se = num(2)
        else { return nil }
        var next = u.next()
        if next == 46 { repeat { next = u.next() } while next.map { $0 >= 48 && $0 <= 57 } ?? false }
        guard next == 90, u.next() == nil, (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, se < 61 else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + h * 3600 + mi * 60 + se)
    }

}
