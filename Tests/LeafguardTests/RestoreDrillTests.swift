import Foundation
import LeafDeployment
import LeafJobs
import LeafTestSupport
import Testing

/// The restore-drill step: a real restore into a scratch folder, checked, timed, recorded,
/// removed; regions in turn; a failed drill fails the job.
@Suite struct RestoreDrillTests {
    func drills(_ d: DeploymentFixture) -> [DrillRecord] { DrillHistory(stateDirectory: d.dir.file("state")).all() }

    @Test func drillsAlternateRegionsRecordTheRecoveryTimeAndLeaveNothingBehind() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        try d.dir.write("jobs/drill.yml", "name: drill\nsteps: [{restore-drill: {region: alternate}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        for expected in ["primary", "backup", "primary"] {
            let r = try leafguard(["run", "drill", "--config", d.config])
            #expect(r.status == 0 && r.stdout.contains("of '\(expected)'") && r.stdout.contains("every document and the database checked"), "\(r.all)")
        }
        let records = drills(d)
        #expect(records.map(\.region) == ["primary", "backup", "primary"])
        #expect(records.allSatisfy { $0.outcome == "succeeded" && $0.seconds > 0 && $0.files > 1 && $0.bytes > 0 && $0.snapshot != nil })
        #expect(!filesBelow(d.dir.file("state")).contains { $0.contains("restore-drill") }, "the scratch folder is removed")
        // The run history carries the recovery time as a figure.
        let history = try leafguard(["history", "drill", "--json", "--config", d.config]).stdout
        #expect(history.contains("recovery_seconds"))
    }

    @Test func aDrillOfADamagedRegionFailsTheJobAndIsRecorded() throws {
        let d = try DeploymentFixture()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup]\n")
        try d.dir.write("jobs/drill.yml", "name: drill\nsteps: [{restore-drill: {region: primary, snapshot: random}}]\n")
        #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0)
        // Three of six locations lost: more than the parity (2) of every pack.
        for i in 0..<3 {
            for name in filesBelow(d.dir.file("regions/primary/loc\(i)/data")) {
                try FileManager.default.removeItem(atPath: d.dir.file("regions/primary/loc\(i)/data/" + name))
            }
        }
        let r = try leafguard(["run", "drill", "--config", d.config])
        #expect(r.status == 1 && r.stdout.contains("FAILED"), "\(r.all)")
        let last = try #require(drills(d).last)
        #expect(last.outcome == "failed" && last.region == "primary" && (last.detail ?? "").contains("cannot be read"), "\(last)")
        #expect(!filesBelow(d.dir.file("state")).contains { $0.contains("restore-drill") }, "the scratch folder is removed")
    }
}
