import Foundation
import LeafTestSupport
import Testing

/// Metrics that can alert (issue 30, point 6): the textfile carries each region's recovery
/// point, holdings, verify problems and drills, and the deployment's key age, posture and
/// compliance; Prometheus's own `promtool` accepts it, and the alert rules docs/operations.md
/// ships fire on series named as leafguard writes them.
@Suite struct MetricsAlertTests {
    static let promtool = "/usr/bin/promtool"

    /// `name{labels} value` lines of a metrics file, by series.
    func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    @Test func theMetricsFileCarriesEachRegionAndPassesPromtool() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool (Debian's prometheus package; make test-deps installs it)")
        let f = try DisasterFixture()
        let file = f.file("state/metrics/leafguard.prom")
        #expect(try f.run(["verify", "--read-data"]).status == 0)
        #expect(try f.run(["scan", "--out", f.file("reports/compliance")]).status == 0)
        _ = try f.run(["report", "--out", f.file("reports/posture")])
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let check = try runCommand("/bin/sh", ["-c", "\(Self.promtool) check metrics < '\(file)'"])
        #expect(check.status == 0, "promtool check metrics: \(check.all)")
        let s = samples(text)
        let newest = try #require(s[#"leafguard_region_newest_snapshot_timestamp_seconds{region="primary"}"#])
        #expect(abs(newest - Date().timeIntervalSince1970) < 3600, "the newest snapshot was taken minutes ago")
        for region in ["primary", "backup"] {
            #expect(s["leafguard_region_snapshots{region=\"\(region)\"}"] == 3, "\(text)")
            #expect((s["leafguard_region_stored_bytes{region=\"\(region)\"}"] ?? 0) > Double(1 << 20))
            #expect(s["leafguard_region_verify_problems{region=\"\(region)\"}"] == 0)
            #expect(s["leafguard_region_packs_unverified{region=\"\(region)\"}"] == 0, "verify --read-data read every pack")
        }
        #expect(s["leafguard_key_active_created_timestamp_seconds"] != nil && s["leafguard_config_errors"] == 0)
        #expect(s.keys.contains { $0.hasPrefix("leafguard_posture_verdict{promise=\"encryption\"}") })
        #expect(s.keys.contains { $0.hasPrefix("leafguard_compliance_findings{severity=\"critical\"}") })

        // A shard lost from one location: the next verify's problem is on the region's series at once.
        let shard = try #require(filesBelow(f.file("regions/primary/loc0")).first { $0.hasPrefix("data/") })
        try FileManager.default.removeItem(atPath: f.file("regions/primary/loc0/" + shard))
        #expect(try f.run(["verify", "--read-data", "--region", "primary"]).status == 1)
        let after = samples(try String(contentsOfFile: file, encoding: .utf8))
        #expect((after[#"leafguard_region_verify_problems{region="primary"}"#] ?? 0) >= 1)
        #expect(after[#"leafguard_region_verify_problems{region="backup"}"#] == 0)
        #expect(try f.run(["verify", "--repair", "--read-data", "--region", "primary"]).status == 0)
        #expect(samples(try String(contentsOfFile: file, encoding: .utf8))[#"leafguard_region_verify_problems{region="primary"}"#] == 0)
    }

    /// The alert rules block of docs/operations.md, as shipped.
    func shippedRules() throws -> String {
        let doc = try String(contentsOfFile: packageRoot + "/docs/operations.md", encoding: .utf8)
        let marker = try #require(doc.range(of: "Alert rules (a test loads exactly this block"))
        let rest = doc[marker.upperBound...]
        let start = try #require(rest.range(of: "```yaml\n"))
        let end = try #require(rest[start.upperBound...].range(of: "```"))
        return String(rest[start.upperBound..<end.lowerBound])
    }

    @Test func theShippedAlertRulesFireOnRecordedSeries() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool (Debian's prometheus package; make test-deps installs it)")
        let dir = TemporaryDirectory("leafguard-alerts")
        let rules = try shippedRules()
        try dir.write("rules.yml", rules)
        let check = try runCommand(Self.promtool, ["check", "rules", dir.file("rules.yml")])
        #expect(check.status == 0, "\(check.all)")
        // Every series a rule reads is one leafguard writes (a renamed metric would leave an alert that never fires).
        let written = try String(contentsOfFile: try recordedMetricsFile(), encoding: .utf8)
        let names = Set(
            written.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(whereSeparator: { "{ ".contains($0) }).first.map(String.init) })
        let read = Set(rules.matches(of: /leafguard_[a-z_]+/).map { String($0.output) })
        #expect(read.subtracting(names).isEmpty, "rules read series leafguard does not write: \(read.subtracting(names))")

        // Over 30 hours: primary keeps its snapshots fresh, backup's stops at 0; the tick never
        // ran; backup's verify left two problems and its drill failed; the key is new.
        try dir.write(
            "test.yml",
            """
            rule_files: [rules.yml]
            evaluation_interval: 1h
            tests:
            - interval: 1h
              input_series:
              - {series: 'leafguard_tick_last_seconds', values: '0x30'}
              - {series: 'leafguard_region_newest_snapshot_timestamp_seconds{region="primary"}', values: '0+3600x30'}
              - {series: 'leafguard_region_newest_snapshot_timestamp_seconds{region="backup"}', values: '0x30'}
              - {series: 'leafguard_region_verify_problems{region="primary"}', values: '0x30'}
              - {series: 'leafguard_region_verify_problems{region="backup"}', values: '2x30'}
              - {series: 'leafguard_region_drill_succeeded{region="primary"}', values: '1x30'}
              - {series: 'leafguard_region_drill_succeeded{region="backup"}', values: '0x30'}
              - {series: 'leafguard_key_active_created_timestamp_seconds', values: '0x30'}
              alert_rule_test:
              - {eval_time: 25h, alertname: LeafguardRecoveryPointTooOld, exp_alerts: []}
              - eval_time: 27h
                alertname: LeafguardRecoveryPointTooOld
                exp_alerts: [{exp_labels: {region: backup}}]
              - eval_time: 27h
                alertname: LeafguardSchedulerStopped
                exp_alerts: [{exp_labels: {}}]
              - eval_time: 27h
                alertname: LeafguardVerifyProblems
                exp_alerts: [{exp_labels: {region: backup}}]
              - eval_time: 27h
                alertname: LeafguardDrillFailed
                exp_alerts: [{exp_labels: {region: backup}}]
              - {eval_time: 27h, alertname: LeafguardKeyTooOld, exp_alerts: []}
            - interval: 1d
              input_series:
              - {series: 'leafguard_key_active_created_timestamp_seconds', values: '0x100'}
              - {series: 'leafguard_tick_last_seconds', values: '0+86400x100'}
              alert_rule_test:
              - {eval_time: 91d, alertname: LeafguardKeyTooOld, exp_alerts: []}
              - {eval_time: 93d, alertname: LeafguardKeyTooOld, exp_alerts: [{exp_labels: {}}]}
              - {eval_time: 93d, alertname: LeafguardSchedulerStopped, exp_alerts: []}
            """)
        let test = try runCommand(Self.promtool, ["test", "rules", dir.file("test.yml")])
        #expect(test.status == 0, "promtool test rules: \(test.all)")
    }

    /// A metrics file leafguard wrote for a deployment that backed up, verified, drilled, scanned, reported and ticked.
    func recordedMetricsFile() throws -> String {
        let f = try DisasterFixture()
        try f.d.dir.write("jobs/drill.yml", "name: drill\nsteps: [{restore-drill: {region: backup}}]\n")
        try f.d.dir.write("jobs/scheduled.yml", "name: scheduled\nschedule: \"30 2 * * *\"\nsteps: [verify]\n")
        #expect(try f.run(["run", "drill"]).status == 0)
        #expect(try f.run(["verify"]).status == 0)
        _ = try f.run(["scan", "--out", f.file("reports/compliance")])
        _ = try f.run(["report", "--out", f.file("reports/posture")])
        _ = try f.run(["tick"])
        let copy = NSTemporaryDirectory() + "/leafguard-recorded-\(UUID().uuidString).prom"
        try FileManager.default.copyItem(atPath: f.file("state/metrics/leafguard.prom"), toPath: copy)
        return copy
    }
}
