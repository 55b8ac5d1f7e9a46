import Foundation
import LeafCompliance
import LeafDemo
import LeafSQLite
import LeafTestSupport
import Testing

/// One small planner database with a deliberate case for every rule and edge.
struct ComplianceFixture {
    let dir = TemporaryDirectory("leafguard-compliance")
    var db: String { dir.file("planner.db") }
    static let asOf = ISO8601DateFormatter().date(from: "2026-11-29T02:15:00Z")!

    init() throws {
        let d = try Database(path: dir.file("planner.db"))
        try d.execute(PlannerSchema.sql)
        let strong = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
        try d.execute(
            """
            INSERT INTO password_policies VALUES (1, 8, 1, 0, 0, 0, '2019-01-01T00:00:00Z'), (2, 12, 1, 1, 1, 1, '2024-01-01T00:00:00Z'),
                                                 (3, 12, 1, 1, 1, 1, '2025-01-01T00:00:00Z'), (4, 16, 1, 1, 1, 1, '2027-01-01T00:00:00Z');
            INSERT INTO accounts VALUES (1, 'A', 'family', 1, '2020-01-01T00:00:00Z'), (2, 'B', 'family', 0, '2020-01-01T00:00:00Z');
            INSERT INTO users VALUES
              (1, 'owner-ok@x', 'active', '2020-01-01T00:00:00Z', '2026-11-20T00:00:00Z'),
              (2, 'owner-nomfa@x', 'active', '2020-01-01T00:00:00Z', '2026-11-20T00:00:00Z'),
              (3, 'editor-nomfa@x', 'active', '2020-01-01T00:00:00Z', '2026-11-20T00:00:00Z'),
              (4, 'viewer-sms@x', 'active', '2020-01-01T00:00:00Z', '2026-11-20T00:00:00Z'),
              (5, 'invited@x', 'invited', '2020-01-01T00:00:00Z', NULL),
              (6, 'disabled@x', 'disabled', '2020-01-01T00:00:00Z', NULL),
              (7, 'stranger@x', 'active', '2020-01-01T00:00:00Z', '2026-11-20T00:00:00Z'),
              (8, 'broad-dormant@x', 'active', '2020-01-01T00:00:00Z', '2025-01-01T00:00:00Z'),
              (9, 'never@x', 'active', '2020-01-01T00:00:00Z', NULL),
              (10, 'recent@x', 'active', '2020-01-01T00:00:00Z', '2026-08-20T00:00:00Z');
            INSERT INTO memberships VALUES (1, 1, 'owner', NULL, '2020-01-01T00:00:00Z'), (2, 2, 'owner', NULL, '2020-01-01T00:00:00Z'),
              (1, 3, 'editor', 1, '2020-01-01T00:00:00Z'), (1, 4, 'viewer', 1, '2020-01-01T00:00:00Z'), (1, 5, 'editor', 1, '2020-01-01T00:00:00Z'),
              (1, 6, 'editor', 1, '2020-01-01T00:00:00Z'), (2, 8, 'editor', 2, '2020-01-01T00:00:00Z'), (2, 9, 'executor', 2, '2020-01-01T00:00:00Z'),
              (2, 10, 'editor', 2, '2020-01-01T00:00:00Z'), (2, 1, 'co-owner', 2, '2020-01-01T00:00:00Z');
            INSERT INTO mfa_factors (user_id, kind, created_at, verified_at, disabled_at) VALUES
              (1, 'totp', 'x', '2025-01-01T00:00:00Z', NULL),
              (2, 'recovery_codes', 'x', '2025-01-01T00:00:00Z', NULL), (2, 'totp', 'x', NULL, NULL), (2, 'webauthn', 'x', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
              (4, 'sms', 'x', '2025-01-01T00:00:00Z', NULL),
              (7, 'totp', 'x', '2025-01-01T00:00:00Z', NULL), (8, 'webauthn', 'x', '2025-01-01T00:00:00Z', NULL),
              (9, 'totp', 'x', '2025-01-01T00:00:00Z', NULL), (10, 'totp', 'x', '2025-01-01T00:00:00Z', NULL);
            INSERT INTO credentials VALUES
              (1, '\(strong)', 'x', 2),
              (2, '$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA', 'x', 3),
              (3, 'sha1$abc$0123456789abcdef0123456789abcdef01234567', 'x', 3),
              (4, '$2b$10$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa', 'x', 1),
              (7, '$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA', 'x', 3),
              (8, '$2y$12$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa', 'x', 3),
              (10, '\(strong)', 'x', 3);
            INSERT INTO grants VALUES (1, 4, 'medical', 'write'), (1, 7, 'legal', 'read'), (1, 6, 'wishes', 'read'),
              (2, 8, 'finances', 'write'), (2, 8, 'insurance', 'write'), (2, 8, 'legal', 'write'), (2, 8, 'medical', 'write'),
              (2, 8, 'property', 'write'), (2, 8, 'contacts', 'write'), (2, 8, 'wishes', 'write'), (2, 8, 'digital', 'write'),
              (2, 9, 'wishes', 'write'), (2, 10, 'legal', 'write'),
              (2, 1, 'finances', 'write'), (2, 1, 'insurance', 'write'), (2, 1, 'legal', 'write'), (2, 1, 'medical', 'write'),
              (2, 1, 'property', 'write'), (2, 1, 'contacts', 'write'), (2, 1, 'wishes', 'write'), (2, 1, 'digital', 'write');
            """)
    }

    func scan() throws -> ComplianceReport { try ComplianceScanner(databasePath: db).scan(asOf: Self.asOf) }
}

@Suite struct ComplianceTests {
    func users(_ r: ComplianceReport, _ rule: String) -> [Int64] { r.findings.filter { $0.rule == rule }.map(\.userID).sorted() }

    @Test func mfaRulesAsWritten() throws {
        let r = try ComplianceFixture().scan()
        #expect(users(r, "MFA-REQUIRED") == [3], "active additional user of a require_mfa account without a verified factor; invited 5 is outside")
        #expect(r.findings.first { $0.rule == "MFA-REQUIRED" }?.accountID == 1)
        #expect(users(r, "MFA-OWNER") == [2], "recovery codes, an unverified and a disabled factor do not count")
        #expect(users(r, "MFA-MISSING").isEmpty, "everyone without a factor is already named above")
        #expect(users(r, "MFA-SMS-ONLY") == [4])
        #expect(r.totals.activeUsers == 8 && r.totals.activeUsersWithMFA == 6 && r.totals.accounts == 2 && r.totals.users == 10)
    }

    @Test func passwordRulesAsWritten() throws {
        let r = try ComplianceFixture().scan()
        #expect(users(r, "PWD-MISSING") == [9])
        // Policy 4 is in the future, so 3 is current; 2 is as strong as 3 (not weaker); 1 is weaker.
        #expect(users(r, "PWD-POLICY") == [4])
        #expect(users(r, "PWD-HASH-LEGACY") == [3])
        #expect(users(r, "PWD-HASH-WEAK") == [2, 4, 7], "argon2id below m/t, bcrypt cost 10, argon2i; bcrypt 12 and m=19456,t=2 pass")
    }

    @Test func accessRulesAsWritten() throws {
        let r = try ComplianceFixture().scan()
        #expect(
            r.findings.filter { $0.rule == "ACCESS-ORPHAN" }.map { [$0.accountID!, $0.userID] }.sorted { $0.lexicographicallyPrecedes($1) } == [
                [1, 6], [1, 7],
            ])
        #expect(users(r, "ACCESS-ROLE") == [4, 9], "a viewer and an executor with write grants")
        #expect(users(r, "ACCESS-BROAD") == [8], "an owner with all eight is not an additional user")
        #expect(users(r, "ACCESS-DORMANT") == [8, 9], "last login 2025-01-01 and never; 101 days ago is not dormant")
    }

    /// The edges the rules leave to interpretation, each on a user of its own added to the
    /// fixture: only that user's findings are looked at.
    @Test func theEdgesOfEveryRule() throws {
        let f = try ComplianceFixture()
        let d = try Database(path: f.db)
        let strong = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
        try d.execute(
            """
            INSERT INTO users VALUES
              (11, 'sms-and-totp@x', 'active', 'x', '2026-11-20T00:00:00Z'), (12, 'recovery-only@x', 'active', 'x', '2026-11-20T00:00:00Z'),
              (13, 'argon-m-below@x', 'active', 'x', '2026-11-20T00:00:00Z'), (14, 'argon-t-below@x', 'active', 'x', '2026-11-20T00:00:00Z'),
              (15, 'bcrypt11@x', 'active', 'x', '2026-11-20T00:00:00Z'), (16, 'bcrypt-lookalike@x', 'active', 'x', '2026-11-20T00:00:00Z'),
              (17, 'argon2d@x', 'active', 'x', '2026-11-20T00:00:00Z'), (18, 'seven-sections@x', 'active', 'x', '2026-11-20T00:00:00Z'),
              (19, 'login-180-days@x', 'active', 'x', '2026-06-02T02:15:00Z'), (20, 'login-181-days@x', 'active', 'x', '2026-06-01T02:15:00Z'),
              (21, 'viewer-one-write@x', 'active', 'x', '2026-11-20T00:00:00Z');
            INSERT INTO mfa_factors (user_id, kind, created_at, verified_at, disabled_at) VALUES
              (11, 'sms', 'x', '2025-01-01T00:00:00Z', NULL), (11, 'totp', 'x', '2025-01-01T00:00:00Z', NULL),
              (12, 'recovery_codes', 'x', '2025-01-01T00:00:00Z', NULL);
            INSERT INTO credentials VALUES
              (13, '$argon2id$v=19$m=19455,t=2,p=1$c2FsdA$aGFzaA', 'x', 3), (14, '$argon2id$v=19$m=19456,t=1,p=1$c2FsdA$aGFzaA', 'x', 3),
              (15, '$2a$11$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa', 'x', 3),
              (16, '$2x$10$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa', 'x', 3),
              (17, '$argon2d$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA', 'x', 3),
              (11, '\(strong)', 'x', 3), (18, '\(strong)', 'x', 3), (19, '\(strong)', 'x', 3), (20, '\(strong)', 'x', 3), (21, '\(strong)', 'x', 3);
            INSERT INTO memberships VALUES (2, 18, 'editor', 2, 'x'), (2, 19, 'editor', 2, 'x'), (2, 20, 'editor', 2, 'x'), (2, 21, 'viewer', 2, 'x');
            INSERT INTO grants VALUES (2, 18, 'finances', 'write'), (2, 18, 'insurance', 'write'), (2, 18, 'legal', 'write'), (2, 18, 'medical', 'write'),
              (2, 18, 'property', 'write'), (2, 18, 'contacts', 'write'), (2, 18, 'wishes', 'write'), (2, 18, 'digital', 'read'),
              (2, 19, 'legal', 'write'), (2, 20, 'legal', 'write'), (2, 21, 'legal', 'read'), (2, 21, 'wishes', 'write');
            """)
        let r = try f.scan()
        func rules(_ user: Int64) -> Set<String> { Set(r.findings.filter { $0.userID == user }.map(\.rule)) }
        #expect(rules(11) == [], "sms beside totp is not SMS-only")
        #expect(rules(12).contains("MFA-MISSING"), "recovery codes alone are no factor")
        #expect(rules(13).contains("PWD-HASH-WEAK") && rules(14).contains("PWD-HASH-WEAK"), "argon2id one below m, one below t")
        #expect(r.findings.first { $0.userID == 13 && $0.rule == "PWD-HASH-WEAK" }?.detail.contains("m=19455 KiB, t=2") == true)
        #expect(rules(15).contains("PWD-HASH-WEAK") && r.findings.contains { $0.userID == 15 && $0.detail == "bcrypt cost 11 (minimum 12)" })
        for lookalike: Int64 in [16, 17] {
            #expect(
                rules(lookalike).contains("PWD-HASH-LEGACY") && !rules(lookalike).contains("PWD-HASH-WEAK"),
                "legacy and weak-looking: legacy alone (\(lookalike))")
        }
        #expect(!rules(18).contains("ACCESS-BROAD"), "write on seven of eight sections is not broad")
        #expect(!rules(19).contains("ACCESS-DORMANT"), "exactly 180 days is not more than 180")
        #expect(rules(20).contains("ACCESS-DORMANT"), "181 days is")
        #expect(rules(21).contains("ACCESS-ROLE") && r.findings.contains { $0.userID == 21 && $0.detail == "viewer holds write on wishes" })
    }

    /// Quotes, commas and line breaks in a detail survive both streamed writers.
    @Test func theStreamedWritersEscapeWhatTheyMust() throws {
        var r = try ComplianceFixture().scan()
        let nasty = "say \"hi\", then\nleave \\ \u{1}"
        r.findings = [
            Finding(rule: "PWD-POLICY", severity: .high, accountID: nil, userID: 1, detail: nasty),
            Finding(rule: "ACCESS-ROLE", severity: .medium, accountID: 7, userID: -2, detail: "plain"),
        ]
        let json = try JSONSerialization.jsonObject(with: Data(try ComplianceOutput.json(r).utf8)) as! [String: Any]
        let findings = json["findings"] as! [[String: Any]]
        #expect(
            findings.count == 2 && findings[0]["detail"] as? String == nasty && findings[1]["account_id"] as? Int == 7 && findings[1]["user_id"] as? Int == -2)
        let decoded = try JSONDecoder().decode(ComplianceReport.self, from: Data(try ComplianceOutput.json(r).utf8))
        #expect(decoded.findings == r.findings)
        let csv = ComplianceOutput.csv(r)
        #expect(csv.contains("PWD-POLICY,high,,1,\"say \"\"hi\"\", then\nleave \\ \u{1}\",2026-11-29T02:15:00Z\r\n"), "\(csv)")
        #expect(csv.hasSuffix("ACCESS-ROLE,medium,7,-2,plain,2026-11-29T02:15:00Z\r\n"))
        var empty = r; empty.findings = []
        #expect((try JSONSerialization.jsonObject(with: Data(try ComplianceOutput.json(empty).utf8)) as! [String: Any])["findings"] as? [Any] != nil)
    }

    @Test func theReportHasTheSharedShape() throws {
        let r = try ComplianceFixture().scan()
        let json = try JSONSerialization.jsonObject(with: Data(try ComplianceOutput.json(r).utf8)) as! [String: Any]
        #expect(json["kind"] as? String == "compliance-report" && json["rules_version"] as? Int == 1)
        #expect(json["as_of"] as? String == "2026-11-29T02:15:00Z")
        let summary = json["summary"] as! [String: [String: Any]]
        #expect(Set(summary.keys) == Set(ComplianceRule.allCases.map(\.rawValue)), "every rule, zero counts included")
        #expect(summary["MFA-MISSING"]?["count"] as? Int == 0 && summary["MFA-REQUIRED"]?["severity"] as? String == "critical")
        let findings = json["findings"] as! [[String: Any]]
        let perUser = findings.first { $0["rule"] as? String == "MFA-OWNER" }!
        #expect(perUser["account_id"] is NSNull, "account_id is null for per-user rules")
        let totals = json["totals"] as! [String: Int]
        #expect(Set(totals.keys) == ["accounts", "users", "active_users", "active_users_with_mfa"])
        #expect(ComplianceOutput.csv(r).split(separator: "\r\n").count == r.findings.count + 1)
    }

    @Test func theCommandGatesOnSeverity() throws {
        let d = try DeploymentFixture()
        let f = try ComplianceFixture()
        try FileManager.default.removeItem(atPath: d.dir.file("planner-data/planner.db"))
        try FileManager.default.copyItem(atPath: f.db, toPath: d.dir.file("planner-data/planner.db"))
        let ok = try leafguard(["scan", "--as-of", "2026-11-29T02:15:00Z", "--config", d.config])
        #expect(ok.status == 0 && ok.stdout.contains("\"compliance-report\""))
        let gated = try leafguard(["scan", "--as-of", "2026-11-29T02:15:00Z", "--fail-on", "critical", "--out", d.dir.file("reports"), "--config", d.config])
        #expect(gated.status == 1 && gated.stderr.contains("at or above critical"))
        for f in ["json", "csv", "md"] { #expect(FileManager.default.fileExists(atPath: d.dir.file("reports/compliance.\(f)"))) }
        #expect(try leafguard(["scan", "--fail-on", "urgent", "--config", d.config]).status == 2)
    }
}
