import Foundation
import LeafDemo
import LeafSQLite
import LeafTestSupport
import Testing

@Suite struct DemoTests {
    static func small(seed: UInt64) -> PlannerDataGenerator {
        var g = PlannerDataGenerator(accounts: 3, seed: seed)
        g.documentScale = 0.02
        g.activityPerAccount = 50
        return g
    }

    static func dump(_ dir: String) throws -> [String] {
        let db = try Database(path: dir + "/planner.db", mode: .readOnly)
        var out: [String] = []
        for t in PlannerSchema.tables {
            for row in try db.query("SELECT * FROM \(t) ORDER BY rowid") { out.append("\(t): \(row)") }
        }
        return out
    }

    @Test func dataOnlyIsDeterministicForASeed() throws {
        let dir = TemporaryDirectory()
        _ = try Self.small(seed: 9).generate(into: dir.file("a"))
        _ = try Self.small(seed: 9).generate(into: dir.file("b"))
        _ = try Self.small(seed: 10).generate(into: dir.file("c"))
        #expect(try Self.dump(dir.file("a")) == Self.dump(dir.file("b")))
        #expect(sameTree(dir.file("a"), dir.file("b")))
        #expect(try Self.dump(dir.file("a")) != Self.dump(dir.file("c")))
    }

    @Test func theSchemaIsTheSharedContract() throws {
        let shared = packageRoot + "/../shared/planner/schema.sql"
        let text = try #require(try? String(contentsOfFile: shared, encoding: .utf8), "shared/planner/schema.sql must sit beside the repository")
        func normalize(_ sql: String) -> String {
            sql.split(separator: "\n").map { line -> String in
                var l = String(line)
                if let r = l.range(of: "--") { l = String(l[..<r.lowerBound]) }
                return l
            }.joined(separator: " ").split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        }
        #expect(normalize(PlannerSchema.sql) == normalize(text))
    }

    @Test func generatedDataFollowsTheSchemaAndDocumentsMatchTheirDigests() throws {
        let dir = TemporaryDirectory()
        let d = try Self.small(seed: 3).generate(into: dir.path)
        let db = try Database(path: dir.file("planner.db"), mode: .readOnly)
        #expect(try db.query("PRAGMA journal_mode")[0][0] == .text("wal"))
        #expect(try db.query("PRAGMA foreign_key_check").isEmpty)
        #expect(try db.query("PRAGMA integrity_check")[0][0] == .text("ok"))
        let docs = try db.query("SELECT blob_path, size, sha256 FROM documents")
        #expect(docs.count == d.documents)
        for row in docs {
            let path = dir.file("documents/" + row[0].text!)
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            #expect(Int64(attrs[.size] as! Int) == row[1].int!)
        }
        let kinds = Set(try db.query("SELECT DISTINCT lower(substr(file_name, instr(file_name, '.') + 1)) FROM documents").compactMap { $0[0].text })
        #expect(kinds.count >= 3)
    }

    /// Every kind of compliance problem the rules look for is present, in realistic proportions.
    @Test func generatedDataHasCompliancProblemsInRealisticProportions() throws {
        let dir = TemporaryDirectory()
        var g = PlannerDataGenerator(accounts: 60, seed: 5)
        g.documentScale = 0.001
        g.activityPerAccount = 5
        _ = try g.generate(into: dir.path)
        let db = try Database(path: dir.file("planner.db"), mode: .readOnly)
        func count(_ sql: String) throws -> Int { Int(try db.query(sql)[0][0].int ?? 0) }
        let verified = "SELECT user_id FROM mfa_factors WHERE kind IN ('totp','webauthn','sms') AND verified_at IS NOT NULL AND disabled_at IS NULL"
        let active = try count("SELECT count(*) FROM users WHERE status = 'active'")
        let withMFA = try count("SELECT count(DISTINCT user_id) FROM (\(verified)) JOIN users u ON u.id = user_id WHERE u.status = 'active'")
        let adoption = Double(withMFA) / Double(active)
        #expect(adoption > 0.4 && adoption < 0.9, "MFA adoption \(adoption)")
        #expect(try count("SELECT count(*) FROM users WHERE status = 'invited'") > 0)
        #expect(try count("SELECT count(*) FROM users WHERE status = 'disabled'") > 0)
        #expect(try count("SELECT count(*) FROM accounts WHERE require_mfa = 1") > 0)
        #expect(try count("SELECT count(*) FROM memberships WHERE role = 'co-owner'") > 0)
        #expect(
            try count(
                "SELECT count(*) FROM users u WHERE status = 'active' AND NOT EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.kind != 'sms' AND f.verified_at IS NOT NULL AND f.disabled_at IS NULL) AND EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.kind = 'sms' AND f.verified_at IS NOT NULL AND f.disabled_at IS NULL)"
            ) > 0, "SMS-only users")
        #expect(try count("SELECT count(*) FROM mfa_factors WHERE verified_at IS NULL") > 0)
        #expect(try count("SELECT count(*) FROM mfa_factors WHERE disabled_at IS NOT NULL") > 0)
        #expect(try count("SELECT count(*) FROM mfa_factors WHERE kind = 'recovery_codes'") > 0)
        let hashes = try db.query("SELECT password_hash FROM credentials").compactMap { $0[0].text }
        let strong = hashes.filter { $0.hasPrefix("$argon2id$") }.count
        #expect(Double(strong) / Double(hashes.count) > 0.6)
        for prefix in ["$argon2i$", "$2b$", "sha1$"] { #expect(hashes.contains { $0.hasPrefix(prefix) }, "\(prefix)") }
        #expect(hashes.contains { $0.hasPrefix("$argon2id$v=19$m=8192,t=1") }, "weak argon2id")
        #expect(hashes.contains { $0.hasPrefix("$2b$10$") || $0.hasPrefix("$2a$10$") || $0.hasPrefix("$2y$10$") }, "bcrypt below cost 12")
        #expect(try count("SELECT count(*) FROM users u WHERE status = 'active' AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id)") > 0)
        #expect(try count("SELECT count(*) FROM credentials WHERE policy_version < 3") > 0)
        #expect(
            try count(
                "SELECT count(*) FROM grants g WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = g.account_id AND m.user_id = g.user_id)") > 0,
            "orphan grants")
        #expect(
            try count(
                "SELECT count(*) FROM grants g JOIN memberships m USING (account_id, user_id) WHERE m.role IN ('viewer','executor') AND g.access = 'write'") > 0
        )
        #expect(
            try count("SELECT count(*) FROM (SELECT account_id, user_id FROM grants WHERE access = 'write' GROUP BY 1, 2 HAVING count(*) = 8)") > 0,
            "broad access")
        #expect(
            try count("SELECT count(*) FROM users WHERE status = 'active' AND (last_login_at IS NULL OR last_login_at < '2026-06-01')") > 0, "dormant users")
    }

    @Test func theRepositoryJobsFolderHoldsTheShippedJobs() throws {
        let dir = packageRoot + "/jobs"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yml") }.sorted()
        #expect(names == ShippedJobs.files.map(\.name))
        for (name, text) in ShippedJobs.files {
            #expect(try String(contentsOfFile: dir + "/" + name, encoding: .utf8) == text + "\n", "\(name) differs from ShippedJobs")
        }
    }

    @Test func theDemoRunsEveryJobAndIsSafeToRunAgain() throws {
        let dir = TemporaryDirectory()
        let first = try leafguard(["demo", "--dir", dir.file("demo"), "--accounts", "2"])
        #expect(first.status == 0, "\(first.all)")
        for job in ["nightly-backup", "weekly-prune", "quarterly-key-rotation", "daily-compliance", "hourly-activity-seal"] {
            #expect(first.stdout.contains("job \(job)"))
        }
        #expect(first.stdout.contains("[ok  ] backup: snapshot"))
        let key = dir.file("demo/keys/master.key")
        let attrs = try FileManager.default.attributesOfItem(atPath: key)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        let keyBefore = FileManager.default.contents(atPath: key)
        let second = try leafguard(["demo", "--dir", dir.file("demo"), "--accounts", "2"])
        #expect(second.status == 0, "\(second.all)")
        #expect(second.stdout.contains("kept the existing data"))
        #expect(FileManager.default.contents(atPath: key) == keyBefore, "the key is never replaced")
        let list = try leafguard(["snapshots", "list", "--json", "--config", dir.file("demo/leafguard.yml")])
        #expect(list.stdout.components(separatedBy: "\"id\"").count - 1 == 2)
        let dataOnly = try leafguard(["demo", "--data-only", "--dir", dir.file("data"), "--accounts", "1"])
        #expect(dataOnly.status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.file("data/planner.db")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("data/leafguard.yml")))
    }
}
