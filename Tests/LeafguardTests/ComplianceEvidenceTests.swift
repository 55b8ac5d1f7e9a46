import Foundation
import LeafCompliance
import LeafConfig
import LeafDigest
import LeafTestSupport
import Testing

/// Thresholds from leafguard.yml, exceptions with expiry, controls, and the evidence manifest.
@Suite struct ComplianceEvidenceTests {
    func users(_ r: ComplianceReport, _ rule: String) -> [Int64] { r.findings.filter { $0.rule == rule }.map(\.userID).sorted() }
    let asOf = ComplianceFixture.asOf

    @Test func exceptionsInForceMoveFindingsApartAndExpiredOnesDoNot() throws {
        let f = try ComplianceFixture()
        let day: TimeInterval = 86400
        let live = ComplianceException(rule: "MFA-OWNER", accountID: nil, userID: 2, owner: "Dana", reason: "key on order", expires: asOf + 30 * day)
        let expired = ComplianceException(rule: "MFA-SMS-ONLY", accountID: nil, userID: 4, owner: "Dana", reason: "old", expires: asOf - day)
        let otherAccount = ComplianceException(rule: "MFA-REQUIRED", accountID: 2, userID: 3, owner: "Dana", reason: "wrong account", expires: asOf + day)
        let plain = try f.scan()
        let r = try ComplianceScanner(databasePath: f.db, exceptions: [live, expired, otherAccount]).scan(asOf: asOf)
        #expect(users(r, "MFA-OWNER").isEmpty && r.summary["MFA-OWNER"]?.count == 0)
        #expect(r.excepted.map(\.finding.rule) == ["MFA-OWNER"] && r.excepted.first?.exception.owner == "Dana")
        #expect(users(r, "MFA-SMS-ONLY") == [4], "an expired exception excepts nothing")
        #expect(r.expiredExceptions == [expired])
        #expect(users(r, "MFA-REQUIRED") == [3], "an exception for another account does not apply")
        #expect(r.findings.count == plain.findings.count - 1)
        // Gating counts only unexcepted findings.
        #expect(r.count(atOrAbove: .high) == plain.count(atOrAbove: .high) - 1)
        // The exception that runs out the day after applies today, not tomorrow.
        let tomorrow = try ComplianceScanner(databasePath: f.db, exceptions: [live]).scan(asOf: asOf + 31 * day)
        #expect(users(tomorrow, "MFA-OWNER") == [2])
        // JSON lists them apart, with ISO dates; Markdown lists them in their own section.
        let json = try JSONSerialization.jsonObject(with: Data(try ComplianceOutput.json(r).utf8)) as? [String: Any]
        #expect((json?["excepted"] as? [[String: Any]])?.count == 1)
        #expect(((json?["expired_exceptions"] as? [[String: Any]])?.first?["expires"] as? String)?.hasPrefix("2026-11-28") == true)
        #expect((json?["controls"] as? [String: [String]])?["ACCESS-ROLE"] == ["CC6.3"])
        #expect((json?["notes"] as? [String])?.first?.contains("800-63B") == true)
        let md = ComplianceOutput.markdown(r)
        #expect(md.contains("## Excepted") && md.contains("key on order") && md.contains("had expired"))
    }

    @Test func thresholdsAndExceptionsComeFromTheConfiguration() throws {
        let fixture = try ConfigFixture(
            config: ConfigFixture.validConfig + """
                compliance:
                  argon2_min_memory_kib: 65536
                  dormancy_days: 400
                  exceptions:
                    - {rule: ACCESS-DORMANT, account: 2, user: 8, owner: "Dana (CISO)", reason: "on leave", expires: 2027-03-31}

                """)
        let config = try fixture.load()
        #expect(config.complianceSettings.argon2MinMemoryKiB == 65536 && config.complianceSettings.dormancyDays == 400)
        #expect(config.complianceExceptions.first?.expires == ISO8601DateFormatter().date(from: "2027-03-31T00:00:00Z"))
        let f = try ComplianceFixture()
        let r = try ComplianceScanner(databasePath: f.db, settings: config.complianceSettings, exceptions: config.complianceExceptions).scan(asOf: asOf)
        #expect(users(r, "ACCESS-DORMANT") == [9], "with 400 days user 8 (last login 2025-01-01, 697 days) is excepted; 9 never logged in")
        #expect(r.excepted.map(\.finding.userID) == [8])
        // Bad entries are located.
        let bad = problems {
            _ = try ConfigFixture(
                config: ConfigFixture.validConfig + """
                    compliance:
                      bcrypt_min_cost: 99
                      exceptions:
                        - {rule: MFA-OWNR, user: 2, owner: x, reason: y, expires: 2027-01-01}
                        - {rule: MFA-OWNER, user: 2, owner: x, reason: y, expires: soon}
                        - {rule: MFA-OWNER, user: 2, reason: y, expires: 2027-01-01}

                    """
            ).load()
        }
        #expect(bad.contains { $0.contains("leafguard.yml:11:20") && $0.contains("99") }, "\(bad)")
        #expect(bad.contains { $0.contains("MFA-OWNR") && $0.contains("MFA-OWNER") }, "\(bad)")
        #expect(bad.contains { $0.contains("'soon' is not a date") }, "\(bad)")
        #expect(bad.contains { $0.contains("owner") }, "\(bad)")
    }

    @Test func theManifestRecordsWhatAnAuditorNeeds() throws {
        let d = try DeploymentFixture()
        let r = try leafguard(["scan", "--out", d.dir.file("out"), "--config", d.config])
        #expect(r.status == 0, "\(r.all)")
        let data = try Data(contentsOf: URL(fileURLWithPath: d.dir.file("out/manifest.json")))
        let m = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(m?["tool_version"] as? String == "0.1.0" && m?["rules_version"] as? Int == 1 && m?["as_of"] != nil)
        #expect(m?["config_sha256"] as? String == (try SHA256.hash(fileAt: d.config).hexString))
        #expect((m?["rows_read"] as? [String: Int])?["users"] ?? 0 > 0)
        let outputs = try #require(m?["outputs"] as? [String: String])
        #expect(Set(outputs.keys) == ["compliance.json", "compliance.csv", "compliance.html", "compliance.md"])
        for (name, digest) in outputs { #expect(try SHA256.hash(fileAt: d.dir.file("out/" + name)).hexString == digest, "\(name)") }
    }

    @Test func reportsAreArchivedEncryptedInBothRegionsAndListed() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        let scan = try leafguard(["scan", "--out", d.dir.file("out"), "--config", d.config])
        #expect(scan.stdout.contains("archived, encrypted, in primary, backup"), "\(scan.all)")
        for region in ["primary", "backup"] {
            let list = try leafguard(["reports", "list", "--json", "--region", region, "--config", d.config])
            let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
            #expect(rows?.count == 1 && (rows?.first?["files"] as? [String])?.contains("manifest.json") == true, "\(list.all)")
        }
        // Stored encrypted: no report text in any stored byte.
        let marker = Array("MFA-REQUIRED".utf8)
        for file in filesBelow(d.dir.file("regions")) where file.contains("reports/") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: d.dir.file("regions/" + file))))
            #expect(!bytes.indices.dropLast(marker.count).contains { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }, "\(file)")
        }
        let id = try #require(
            (try JSONSerialization.jsonObject(with: Data(try leafguard(["reports", "list", "--json", "--config", d.config]).stdout.utf8)) as? [[String: Any]])?
                .first?["id"] as? String)
        let get = try leafguard(["reports", "get", String(id.prefix(10)), "--to", d.dir.file("got"), "--region", "backup", "--config", d.config])
        #expect(get.status == 0, "\(get.all)")
        for name in ["compliance.json", "compliance.csv", "compliance.html", "compliance.md", "manifest.json"] {
            #expect(FileManager.default.contentsEqual(atPath: d.dir.file("got/" + name), andPath: d.dir.file("out/" + name)), "\(name)")
        }
        let verify = try leafguard(["verify", "--config", d.config])
        #expect(verify.status == 0 && !verify.stdout.contains("stray"), "\(verify.all)")
        // The next scan's trend needs only the previous manifest (its summary), not the findings.
        try FileManager.default.removeItem(atPath: d.dir.file("out/compliance.json"))
        let again = try leafguard(["scan", "--out", d.dir.file("out"), "--format", "html,md", "--config", d.config])
        #expect(again.status == 0, "\(again.all)")
        let html = try String(contentsOfFile: d.dir.file("out/compliance.html"), encoding: .utf8)
        #expect(html.contains("Trend against the previous scan") && html.contains("±0 since last scan"), "the trend from the manifest")
    }
}

@Suite struct ComplianceHTMLTests {
    @Test func theHTMLReportIsSelfContainedWithChartsTrendAndGuidance() throws {
        let f = try ComplianceFixture()
        let asOf = ComplianceFixture.asOf
        let previous = try f.scan()
        var now = try ComplianceScanner(
            databasePath: f.db,
            exceptions: [
                ComplianceException(rule: "MFA-OWNER", accountID: nil, userID: 2, owner: "<b>Dana</b> & co", reason: "key \"on order\"", expires: asOf + 86400)
            ]
        ).scan(asOf: asOf)
        now.findings.append(Finding(rule: "PWD-POLICY", severity: .high, accountID: nil, userID: 99, detail: "<script>alert(1)</script>"))
        now.summary = ComplianceReport.summary(of: now.findings)
        let html = ComplianceOutput.html(now, previous: previous)
        // Self-contained: nothing fetched from elsewhere, no script.
        for forbidden in ["<script", "src=", "<link", "http://", "https://", "@import"] {
            #expect(!html.lowercased().contains(forbidden), "found \(forbidden)")
        }
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && html.contains("&lt;b&gt;Dana&lt;/b&gt; &amp; co"))
        #expect(html.components(separatedBy: "<svg").count == 2 && html.contains("<rect"))
        for rule in ComplianceRule.allCases {
            #expect(html.contains(rule.rawValue) && html.contains(ComplianceOutput.esc(rule.fix)))
        }
        // Per rule: MFA-OWNER's one finding is now excepted (-1); PWD-POLICY gained one (+1); high overall is even.
        #expect(
            html.contains("Trend against the previous scan") && html.contains("<td class=\"n down\">-1</td>") && html.contains("<td class=\"n up\">+1</td>"))
        #expect(html.contains("±0 since last scan"))
        #expect(html.contains("Users with the most findings") && html.contains("Accounts with the most findings"))
        #expect(html.contains("Exceptions (accepted risk)") && html.contains("800-63B"))
        // Rendered by a real browser when one is installed (Debian's chromium).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") {
            let dir = TemporaryDirectory("leafguard-html")
            let page = try dir.write("compliance.html", html)
            let png = dir.file("shot.png")
            let r = try runCommand(
                "/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,2000", "--screenshot=\(png)", "file://\(page)"])
            #expect(r.status == 0)
            let size = (try FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
            #expect(size > 20_000, "a rendered page, not a blank one (\(size) bytes)")
        }
    }
}

@Suite struct PlannerTimestampTests {
    @Test func theFastParserAgreesWithFoundation() throws {
        let iso = ISO8601DateFormatter()
        for text in [
            "1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "2026-11-29T02:15:00Z", "1999-12-31T12:00:00Z", "2100-03-01T00:00:00Z", "2000-02-29T00:00:00Z",
        ] {
            #expect(ComplianceScanner.fastISODate(text) == iso.date(from: text), "\(text)")
        }
        #expect(ComplianceScanner.fastISODate("2026-11-29T02:15:00.250Z") == iso.date(from: "2026-11-29T02:15:00Z"), "fractions are dropped")
        // Anything else falls back to Foundation: the fast parser says nil.
        for text in ["2026-11-29T02:15:00+01:00", "2026-11-29", "2026-13-01T00:00:00Z", "x", "2026-11-29T02:15:00Zjunk"] {
            #expect(ComplianceScanner.fastISODate(text) == nil, "\(text)")
        }
    }
}
