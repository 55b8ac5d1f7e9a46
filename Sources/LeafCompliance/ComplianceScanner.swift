import Foundation
import LeafSQLite

/// Why a scan could not run.
public struct ComplianceError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Judges planner data against the compliance rules as of one instant. Reads the live
/// database read-only, in one read transaction (WAL: the application is never blocked).
public struct ComplianceScanner: Sendable {
    public let databasePath: String
    public let settings: ComplianceSettings
    public let exceptions: [ComplianceException]

    public init(databasePath: String, settings: ComplianceSettings = ComplianceSettings(), exceptions: [ComplianceException] = []) {
        self.databasePath = databasePath; self.settings = settings; self.exceptions = exceptions
    }

    static let sections: Set<String> = ["finances", "insurance", "legal", "medical", "property", "contacts", "wishes", "digital"]

    public func scan(asOf: Date) throws -> ComplianceReport {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw ComplianceError(message: "no planner database at \(databasePath)")
        }
        let db = try Database(path: databasePath, mode: .readOnly)
        var report = try db.transaction("DEFERRED") { try evaluate(db, asOf: asOf) }
        report.apply(exceptions, asOf: asOf)
        return report
    }

    func evaluate(_ db: Database, asOf: Date) throws -> ComplianceReport {
        let iso = ISO8601DateFormatter()
        // The planner writes "YYYY-MM-DDTHH:MM:SSZ"; parsing that by hand is ~50x faster than
        // ISO8601DateFormatter, which remains the fallback for any other form.
        func date(_ v: SQLiteValue) -> Date? { v.text.flatMap { Self.fastISODate($0) ?? iso.date(from: $0) } }
        var rows: [String: Int] = [:]
        func read(_ table: String, _ sql: String) throws -> [[SQLiteValue]] {
            let r = try db.query(sql); rows[table] = r.count; return r
        }
        let accounts = try read("accounts", "SELECT id, require_mfa FROM accounts")
        let users = try read("users", "SELECT id, status, last_login_at FROM users")
        let members = try read("memberships", "SELECT account_id, user_id, role FROM memberships")
        let grants = try read("grants", "SELECT account_id, user_id, section, access FROM grants")
        let creds = try read("credentials", "SELECT user_id, password_hash, policy_version FROM credentials")
        let factors = try read("mfa_factors", "SELECT user_id, kind, verified_at, disabled_at FROM mfa_factors")
        let policies = try read("password_policies",
                                "SELECT version, min_length, require_lower, require_upper, require_digit, require_symbol, effective_at FROM password_policies")

        let requireMFA = Set(accounts.filter { $0[1].int == 1 }.compactMap { $0[0].int })
        var status: [Int64: String] = [:], lastLogin: [Int64: Date?] = [:]
        for u in users { if let id = u[0].int { status[id] = u[1].text; lastLogin[id] = date(u[2]) } }
        let active = Set(status.filter { $0.value == "active" }.keys)
        var verifiedKinds: [Int64: [String]] = [:]
        for f in factors {
            guard let uid = f[0].int, let kind = f[1].text, ["totp", "webauthn", "sms"].contains(kind),
                  !f[2].isNull, f[3].isNull else { continue }
            verifiedKinds[uid, default: []].append(kind)
        }
        var roles: [Int64: [Int64: String]] = [:]   // account -> user -> role
        var owners = Set<Int64>()
        for m in members {
            guard let a = m[0].int, let u = m[1].int, let r = m[2].text else { continue }
            roles[a, default: [:]][u] = r
            if r == "owner" || r == "co-owner" { owners.insert(u) }
        }
        func isAdditional(_ a: Int64, _ u: Int64) -> Bool { if let r = roles[a]?[u] { return r != "owner" && r != "co-owner" }; return false }

        var findings: [Finding] = []
        func add(_ rule: ComplianceRule, _ account: Int64?, _ user: Int64, _ detail: String) {
            findings.append(Finding(rule: rule.rawValue, severity: rule.severity, accountID: account, userID: user, detail: detail))
        }

        // MFA.
        var namedByMFARules = Set<Int64>()
        for (a, members) in roles.sorted(by: { $0.key < $1.key }) where requireMFA.contains(a) {
            for (u, role) in members.sorted(by: { $0.key < $1.key }) where active.contains(u) && isAdditional(a, u) && verifiedKinds[u] == nil {
                add(.mfaRequired, a, u, "\(role) of an account whose owner requires MFA has no verified factor")
                namedByMFARules.insert(u)
            }
        }
        for u in active.sorted() where verifiedKinds[u] == nil {
            if owners.contains(u) { add(.mfaOwner, nil, u, "owns an account and has no verified factor"); namedByMFARules.insert(u) }
        }
        for u in active.sorted() where verifiedKinds[u] == nil && !namedByMFARules.contains(u) {
            add(.mfaMissing, nil, u, "no verified second factor")
        }
        for u in active.sorted() { if let k = verifiedKinds[u], k.allSatisfy({ $0 == "sms" }) { add(.mfaSMSOnly, nil, u, "SMS is the only verified factor") } }

        // Passwords.
        struct Policy { let length: Int64; let flags: [Bool]; let effective: Date }
        var policyByVersion: [Int64: Policy] = [:]
        for p in policies {
            guard let v = p[0].int, let eff = date(p[6]) else { continue }
            policyByVersion[v] = Policy(length: p[1].int ?? 0, flags: (2...5).map { p[$0].int == 1 }, effective: eff)
        }
        let current = policyByVersion.values.filter { $0.effective <= asOf }.max { $0.effective < $1.effective }
        var credential: [Int64: (hash: String, policy: Int64)] = [:]
        for c in creds { if let u = c[0].int, let h = c[1].text, let p = c[2].int { credential[u] = (h, p) } }
        for u in active.sorted() {
            guard let c = credential[u] else { add(.pwdMissing, nil, u, "no password credential"); continue }
            if let cur = current, let p = policyByVersion[c.policy],
               p.length < cur.length || zip(p.flags, cur.flags).contains(where: { !$0 && $1 }) {
                add(.pwdPolicy, nil, u, "password set under policy version \(c.policy), weaker than the current policy")
            }
            let h = c.hash
            let isArgon = h.hasPrefix("$argon2id$") || h.hasPrefix("$argon2i$")
            let isBcrypt = h.hasPrefix("$2a$") || h.hasPrefix("$2b$") || h.hasPrefix("$2y$")
            if !isArgon && !isBcrypt {
                add(.pwdHashLegacy, nil, u, "password hash is a legacy format (\(h.hasPrefix("sha1$") ? "sha1" : h.hasPrefix("md5$") ? "md5" : "unsalted digest"))")
            } else if h.hasPrefix("$argon2i$") {
                add(.pwdHashWeak, nil, u, "argon2i, not argon2id")
            } else if h.hasPrefix("$argon2id$") {
                let params = Self.argon2Parameters(h)
                if (params.m ?? 0) < settings.argon2MinMemoryKiB || (params.t ?? 0) < settings.argon2MinIterations {
                    add(.pwdHashWeak, nil, u, "argon2id with m=\(params.m.map(String.init) ?? "?") KiB, t=\(params.t.map(String.init) ?? "?") (minimum m=\(settings.argon2MinMemoryKiB), t=\(settings.argon2MinIterations))")
                }
            } else if let cost = Int(h.split(separator: "$").dropFirst().first ?? ""), cost < settings.bcryptMinCost {
                add(.pwdHashWeak, nil, u, "bcrypt cost \(cost) (minimum \(settings.bcryptMinCost))")
            }
        }

        // Access.
        struct AccountUser: Hashable, Comparable {
            let a: Int64, u: Int64
            static func < (x: AccountUser, y: AccountUser) -> Bool { (x.a, x.u) < (y.a, y.u) }
        }
        var grantsBy: [AccountUser: [(section: String, access: String)]] = [:]
        for g in grants { if let a = g[0].int, let u = g[1].int, let s = g[2].text, let acc = g[3].text { grantsBy[AccountUser(a: a, u: u), default: []].append((s, acc)) } }
        let dormancy = Double(settings.dormancyDays) * 86400
        for (key, list) in grantsBy.sorted(by: { $0.key < $1.key }) {
            let (a, u) = (key.a, key.u)
            let role = roles[a]?[u]
            if role == nil || status[u] == "disabled" {
                add(.accessOrphan, a, u, role == nil ? "holds \(list.count) grant(s) in an account it is not a member of" : "disabled user holds \(list.count) grant(s)")
            }
            let writes = Set(list.filter { $0.access == "write" }.map(\.section))
            if let role, role == "viewer" || role == "executor", !writes.isEmpty {
                add(.accessRole, a, u, "\(role) holds write on \(writes.sorted().joined(separator: ", "))")
            }
            if isAdditional(a, u) && writes.isSuperset(of: Self.sections) {
                add(.accessBroad, a, u, "write on all eight sections")
            }
            if active.contains(u) && isAdditional(a, u) && !writes.isEmpty {
                let last = lastLogin[u] ?? nil
                if last == nil || asOf.timeIntervalSince(last!) > dormancy {
                    add(.accessDormant, a, u, last == nil ? "holds write access and has never logged in" : "holds write access; last login more than \(settings.dormancyDays) days before as_of")
                }
            }
        }

        let summary = ComplianceReport.summary(of: findings)
        let withMFA = active.filter { verifiedKinds[$0] != nil }.count
        let f = ISO8601DateFormatter()
        return ComplianceReport(asOf: f.string(from: asOf),
                                totals: .init(accounts: accounts.count, users: users.count, activeUsers: active.count, activeUsersWithMFA: withMFA),
                                summary: summary, findings: findings, rowsRead: rows)
    }

    /// "YYYY-MM-DDTHH:MM:SSZ" (optionally with fractional seconds) as a Date; nil for any other form.
    public static func fastISODate(_ s: String) -> Date? {
        var u = s.utf8.makeIterator()
        func num(_ n: Int) -> Int? {
            var v = 0
            for _ in 0..<n { guard let c = u.next(), c >= 48, c <= 57 else { return nil }; v = v * 10 + Int(c - 48) }
            return v
        }
        func expect(_ ch: UInt8) -> Bool { u.next() == ch }
        guard let y = num(4), expect(45), let mo = num(2), expect(45), let d = num(2), expect(84),
              let h = num(2), expect(58), let mi = num(2), expect(58), let se = num(2) else { return nil }
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
        return Date(timeIntervalSince1970: TimeInterval(days * 86400 + h * 3600 + mi * 60 + se))
    }

    /// m and t from `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`.
    static func argon2Parameters(_ phc: String) -> (m: Int?, t: Int?) {
        var m: Int?, t: Int?
        for part in phc.split(separator: "$") where part.contains("m=") {
            for kv in part.split(separator: ",") {
                let pair = kv.split(separator: "=")
                guard pair.count == 2 else { continue }
                if pair[0] == "m" { m = Int(pair[1]) }
                if pair[0] == "t" { t = Int(pair[1]) }
            }
        }
        return (m, t)
    }
}
