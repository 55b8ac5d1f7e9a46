import Foundation
import LeafReports
import LeafScheduler
import LeafTestSupport
import Testing

/// The posture report against a real deployment: everything passing, then one promise
/// broken at a time (a stale region, a key overdue, a tampered activity log, a failed
/// drill), each turning its own section and the banner.
@Suite struct PostureReportTests {
    func report(_ d: DeploymentFixture, now: Date? = nil) throws -> (status: Int32, verdict: String, promises: [String: String], all: String) {
        var args = ["report", "--format", "json", "--config", d.config]
        if let now { args += ["--now", ISO8601DateFormatter().string(from: now)] }
        let r = try leafguard(args)
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        var promises: [String: String] = [:]
        for p in o?["promises"] as? [[String: Any]] ?? [] { promises[p["id"] as! String] = p["verdict"] as? String }
        return (r.status, o?["verdict"] as? String ?? "?", promises, r.all)
    }

    @Test func everyPromiseAndTheBannerFollowTheEvidence() throws {
        let d = try DeploymentFixture()
        // Planner data with nothing to find: everyone active with a verified factor and a
        // strong password under the current policy, no grants.
        let clean = """
            DELETE FROM grants; UPDATE users SET status = 'active', last_login_at = '2026-11-28T00:00:00Z';
            DELETE FROM mfa_factors; INSERT INTO mfa_factors (user_id, kind, created_at, verified_at) SELECT id, 'totp', 'x', '2025-01-01T00:00:00Z' FROM users;
            DELETE FROM credentials; INSERT INTO credentials SELECT id, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 'x',
              (SELECT version FROM password_policies WHERE effective_at <= '2026-11-29T00:00:00Z' ORDER BY effective_at DESC LIMIT 1) FROM users;
            """
        #expect(try runCommand("/usr/bin/sqlite3", [d.dir.file("planner-data/planner.db"), clean]).status == 0)
        try d.dir.write(
            "jobs/all.yml",
            """
            name: all
            steps:
              - backup
              - replicate: {to: backup}
              - verify: {read_data: 100}
              - seal-activity
              - scan
              - restore-drill: {region: primary}
              - restore-drill: {region: backup}
              - report: {formats: [json, html, md], fail_on: warn}
            """)
        let run = try leafguard(["run", "all", "--config", d.config])
        #expect(run.status == 0 && run.stdout.contains("posture PASS"), "\(run.all)")
        let html = try String(contentsOfFile: d.dir.file("reports/posture/posture.html"), encoding: .utf8)
        #expect(html.contains("Security posture: PASS") && !html.contains("<script") && !html.contains("http"))
        let fine = try report(d)
        #expect(fine.status == 0 && fine.verdict == "pass" && fine.promises.count == 9 && fine.promises.values.allSatisfy { $0 == "pass" }, "\(fine.all)")
        #expect(try leafguard(["report", "--fail-on", "warn", "--config", d.config]).status == 0)

        // A day and a half without a backup: the recovery point fails.
        let stale = try report(d, now: Date().addingTimeInterval(30 * 3600))
        #expect(stale.promises["regions"] == "fail" && stale.verdict == "fail", "\(stale.all)")
        #expect(
            try leafguard([
                "report", "--fail-on", "fail", "--now", ISO8601DateFormatter().string(from: Date().addingTimeInterval(30 * 3600)), "--config", d.config,
            ]).status == 1)

        // Thresholds come from leafguard.yml: with a 100-hour recovery point, 30 hours passes.
        let yml = try String(contentsOfFile: d.config, encoding: .utf8)
        try d.dir.write("leafguard.yml", yml + "posture: {recovery_point_warn_hours: 90, recovery_point_fail_hours: 100}\n")
        #expect(try report(d, now: Date().addingTimeInterval(30 * 3600)).promises["regions"] == "pass")
        try d.dir.write("leafguard.yml", yml)

        // A second backup and scan: the HTML draws the trends.
        try addDocument(to: d, megabytes: 1)
        #expect(try leafguard(["run", "all", "--config", d.config]).status == 0)
        let withTrends = try String(contentsOfFile: d.dir.file("reports/posture/posture.html"), encoding: .utf8)
        #expect(
            withTrends.contains("<svg") && withTrends.contains("Recovery point (hours) at each snapshot")
                && withTrends.contains("MFA adoption (%) at each scan"))

        // The active master key past its rotation date.
        let overdue = try report(d, now: Date().addingTimeInterval(110 * 86400))
        #expect(overdue.promises["keys"] == "fail", "\(overdue.all)")

        // Missed schedules, as the scheduler records them: one entry standing for three fire
        // times. The count is the entry's own column: a summary that does not start with it
        // (edited here) changes nothing.
        let now = Date()
        let fires = try #require(MissedFires([now.addingTimeInterval(-7200), now.addingTimeInterval(-3600), now]))
        try RunCatalog(stateDirectory: d.dir.file("state")).recordMissed(job: "all", fires: fires, reason: "the host was down", at: now)
        let edit = "UPDATE runs SET summary = 'the host was down' WHERE outcome = 'missed'"
        #expect(try runCommand("/usr/bin/sqlite3", [d.dir.file("state/catalog.db"), edit]).status == 0)
        let late = try leafguard(["report", "--format", "json", "--config", d.config])
        let lateVerdicts = try report(d)
        #expect(late.stdout.contains("\"missed_runs\" : 3") && lateVerdicts.promises["runner"] == "warn", "\(late.all)")

        // A sealed activity-log row altered.
        #expect(
            try runCommand(
                "/usr/bin/sqlite3",
                [d.dir.file("planner-data/planner.db"), "UPDATE activity_log SET detail = 'nothing happened' WHERE id = (SELECT min(id) FROM activity_log)"]
            ).status == 0)
        let tampered = try report(d)
        #expect(tampered.promises["activity-log"] == "fail" && tampered.verdict == "fail", "\(tampered.all)")

        // The primary loses three of six locations; its next drill fails.
        for i in 0..<3 { try FileManager.default.removeItem(atPath: d.dir.file("regions/primary/loc\(i)/data")) }
        try d.dir.write("jobs/drill.yml", "name: drill\nsteps: [{restore-drill: {region: primary}}]\n")
        #expect(try leafguard(["run", "drill", "--config", d.config]).status == 1)
        let drilled = try report(d)
        #expect(drilled.promises["recoverability"] == "fail" && drilled.promises["runner"] == "warn", "\(drilled.all)")
    }
}
