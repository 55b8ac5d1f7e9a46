import Foundation
import LeafTestSupport
import Testing

@Suite struct CLITests {
    @Test func validateNamesFileLineAndColumnAndExitsTwo() throws {
        let d = try DeploymentFixture()
        let bad = try d.dir.write("jobs/broken.yml", "name: broken\nschedule: '0 0 31 2 *'\nsteps:\n  - replicate: {to: nowhere}\n  - backupp\n")
        let r = try leafguard(["jobs", "validate", "--config", d.config])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(bad):2:11: invalid schedule"))
        #expect(r.stderr.contains("\(bad):4:21: region 'nowhere' does not exist"))
        #expect(r.stderr.contains("\(bad):5:5: unknown step 'backupp'; did you mean 'backup'?"))
        // One broken file stops only its own job: another job runs, with a warning naming it.
        let other = try leafguard(["run", "backup-only", "--config", d.config])
        #expect(other.status == 0 && other.stderr.contains(bad), "\(other.all)")
        #expect(try leafguard(["run", "broken", "--config", d.config]).status == 2)
        try FileManager.default.removeItem(atPath: bad)
        let ok = try leafguard(["jobs", "validate", "--config", d.config])
        #expect(ok.status == 0, "\(ok.all)")
        #expect(ok.stdout.contains("job backup-only"))
    }

    /// A broken leafguard.yml and a broken job file: one `jobs validate` names both.
    @Test func validateReportsTheConfigurationAndEveryJobFileTogether() throws {
        let d = try DeploymentFixture()
        let yml = try String(contentsOfFile: d.config, encoding: .utf8)
        try d.dir.write("leafguard.yml", yml + "histroy: {keep: 10}\n")
        let bad = try d.dir.write("jobs/broken.yml", "name: broken\nsteps:\n  - replicate: {to: nowhere}\n  - backupp\n")
        let r = try leafguard(["jobs", "validate", "--config", d.config])
        #expect(r.status == 2, "\(r.all)")
        #expect(r.stderr.contains("\(d.config):") && r.stderr.contains("histroy"), "\(r.all)")
        #expect(r.stderr.contains("\(bad):3:21: region 'nowhere' does not exist"), "\(r.all)")
        #expect(r.stderr.contains("\(bad):4:5: unknown step 'backupp'"), "\(r.all)")
        #expect(!r.stdout.contains("\(d.config): ok"))
    }

    @Test func brokenYAMLAndMissingConfigExitTwo() throws {
        let d = try DeploymentFixture()
        try d.dir.write("leafguard.yml", "data: [\n")
        let r = try leafguard(["jobs", "list", "--config", d.config])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(d.config):2:1: YAML syntax"))
        let missing = try leafguard(["snapshots", "list"], in: d.dir.file("jobs"))
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no configuration file found"))
        #expect(try leafguard(["run"]).status == 2, "a missing argument is bad usage")
        #expect(try leafguard(["frobnicate"]).status == 2)
    }

    @Test func configIsTakenFromTheEnvironment() throws {
        let d = try DeploymentFixture()
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_CONFIG"] = d.config
        let r = try leafguard(["jobs", "list", "--json"], environment: env, in: "/")
        #expect(r.status == 0, "\(r.all)")
        #expect(r.stdout.contains("\"backup-only\""))
    }

    @Test func runSucceedsThenRestoreAndListWork() throws {
        let d = try DeploymentFixture()
        let run = try leafguard(["run", "backup-only", "--config", d.config])
        #expect(run.status == 0, "\(run.all)")
        #expect(run.stdout.contains("[ok  ] backup: snapshot"))
        let dry = try leafguard(["run", "backup-only", "--dry-run", "--config", d.config])
        #expect(dry.status == 0 && dry.stdout.contains("dry run"))
        let list = try leafguard(["snapshots", "list", "--json", "--config", d.config])
        let rows = try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(list.stdout.utf8))
        #expect(rows.count == 1, "a dry run stores nothing")
        #expect(rows[0]["id"]?.string?.count == 32 && rows[0]["time"]?.string != nil)
        let restore = try leafguard(["restore", "latest", "--to", d.dir.file("out"), "--config", d.config])
        #expect(restore.status == 0, "\(restore.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("out")))
        let short = try #require(rows[0]["short"]?.string)
        let human = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(human.stdout.contains(short))
        let byShort = try leafguard(["restore", short, "--to", d.dir.file("out-short"), "--config", d.config])
        #expect(byShort.status == 0, "the short id people see restores: \(byShort.all)")
        let again = try leafguard(["restore", "latest", "--to", d.dir.file("out"), "--config", d.config])
        #expect(again.status == 2 && again.stderr.contains("--force"), "a non-empty target is bad usage: \(again.all)")
        // The operator meant srv/planner and typed srv: --force would have deleted the TLS key
        // and the planner folder itself. Refused, exit 2, everything kept.
        try d.dir.write("srv/server.key", "a TLS key")
        try d.dir.write("srv/planner/planner.db", "the live database")
        let mistyped = try leafguard(["restore", "latest", "--to", d.dir.file("srv"), "--force", "--config", d.config])
        #expect(mistyped.status == 2 && mistyped.stderr.contains("planner, server.key") && mistyped.stderr.contains("nothing was written"), "\(mistyped.all)")
        #expect(filesBelow(d.dir.file("srv")) == ["planner/planner.db", "server.key"])
        let unknown = try leafguard(["restore", "0123abcd", "--to", d.dir.file("x"), "--config", d.config])
        #expect(unknown.status == 1 && unknown.stderr.contains("no snapshot '0123abcd'"))
        let region = try leafguard(["snapshots", "list", "--region", "mars", "--config", d.config])
        #expect(region.status == 2 && region.stderr.contains("region 'mars' is not defined"), "\(region.all)")
    }

    @Test func aFailingStepFailsTheJobWithStatusOne() throws {
        let d = try DeploymentFixture()
        try FileManager.default.removeItem(atPath: d.dir.file("planner-data/planner.db"))
        let r = try leafguard(["run", "backup-only", "--config", d.config])
        #expect(r.status == 1)
        #expect(r.stdout.contains("[FAIL] backup: no planner database"))
    }

    @Test func noKeyMaterialReachesAnyOutput() throws {
        let d = try DeploymentFixture()
        let key = d.keyBytes
        let forms = [Data(key).base64EncodedString(), key.map { String(format: "%02x", $0) }.joined()]
        var outputs: [String] = []
        for args in [
            ["run", "backup-only", "--log-level", "trace"], ["run", "backup-only", "--log-format", "json", "--log-level", "trace"],
            ["snapshots", "list", "--json"], ["restore", "latest", "--to", d.dir.file("o")], ["jobs", "list", "--json"],
        ] {
            outputs.append(try leafguard(args + ["--config", d.config]).all)
        }
        // A wrong key: the error names the keyring that does not open, not the key.
        let wrong = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        try wrong.write(to: URL(fileURLWithPath: d.dir.file("keys/master.key")))
        let w = try leafguard(["snapshots", "list", "--config", d.config])
        #expect(w.status == 1 && w.stderr.contains("does not open with the configured key"), "\(w.all)")
        // Said once, with every copy named, not once per copy.
        #expect(w.stderr.contains("none of its 7 copies authenticates with it") && w.stderr.contains("primary/loc5/keyring"), "\(w.all)")
        #expect(!w.stderr.contains("does not authenticate"), "\(w.all)")
        outputs.append(w.all)
        let wrongForms = [wrong.base64EncodedString(), wrong.map { String(format: "%02x", $0) }.joined()]
        for o in outputs { for s in forms + wrongForms { #expect(!o.contains(s)) } }
        #expect(outputs[1].contains("\"level\""), "JSON logs are JSON")
    }
}
