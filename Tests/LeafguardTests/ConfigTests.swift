import Foundation
import LeafConfig
import LeafJobs
import LeafTestSupport
import Testing

@Suite struct ConfigTests {
    @Test func validConfigResolvesPathsAgainstItsFolder() throws {
        let f = try ConfigFixture()
        let c = try f.load()
        #expect(c.dataDirectory == f.dir.file("planner-data"))
        #expect(c.stateDirectory == f.dir.file("state"))
        #expect(c.masterKey == .file(path: f.dir.file("keys/master.key")))
        #expect(c.regions.map(\.name) == ["primary", "backup"])
        #expect(c.regions[0].backend == .local(path: f.dir.file("regions/primary")))
        #expect(c.shards == ShardLayout(data: 4, parity: 2))
    }

    @Test func absolutePathsStayAbsolute() throws {
        let f = try ConfigFixture(config: ConfigFixture.validConfig.replacingOccurrences(of: "data: planner-data", with: "data: /srv/planner"))
        #expect(try f.load().dataDirectory == "/srv/planner")
    }

    @Test func configIsFoundByFlagThenEnvironmentThenCurrentFolder() throws {
        let dir = TemporaryDirectory()
        #expect(try ConfigLoader.locate(explicit: "x.yml", environment: ["LEAFGUARD_CONFIG": "/e.yml"], currentDirectory: dir.path) == dir.file("x.yml"))
        #expect(try ConfigLoader.locate(explicit: nil, environment: ["LEAFGUARD_CONFIG": "/e.yml"], currentDirectory: dir.path) == "/e.yml")
        #expect(throws: ConfigurationError.self) { try ConfigLoader.locate(explicit: nil, environment: [:], currentDirectory: dir.path) }
        try dir.write("leafguard.yml", "x")
        #expect(try ConfigLoader.locate(explicit: nil, environment: [:], currentDirectory: dir.path) == dir.file("leafguard.yml"))
    }

    /// Each bad configuration names the file, line and column, what is wrong and what is valid.
    @Test(arguments: [
        (
            "unknown key",
            "data: planner-data\nstate: state\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: local, path: r, locations: 6}}\nretension: 3\n",
            ":5:1: unknown key 'retension' in top level", "valid keys:"
        ),
        (
            "wrong type",
            "data: planner-data\nstate: state\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: local, path: r, locations: six}}\n",
            ":4:57: regions.primary.locations must be a whole number", "valid: 1...256"
        ),
        (
            "unknown backend", "data: d\nstate: s\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: ftp, path: r}}\n",
            ":4:30: regions.primary.backend is 'ftp', which is not allowed", "valid: local"
        ),
        (
            "missing key", "state: s\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: local, path: r}}\n",
            ":1:1: the file is missing the required key 'data'", "planner data directory"
        ),
        (
            "bad key source", "data: d\nstate: s\nkeys: {master: vault:x}\nregions: {primary: {backend: local, path: r}}\n",
            ":3:16: keys.master 'vault:x' names no key source", "env:VAR"
        ),
        (
            "missing key file", "data: d\nstate: s\nkeys: {master: file:nokey}\nregions: {primary: {backend: local, path: r}}\n",
            "nokey does not exist", "leafguard keys init"
        ),
        ("syntax", "data: [unclosed\nstate: s\n", ":", "YAML syntax"),
        (
            // YAML 1.1's base 60 overflowing Int: Yams' own reading of it trapped (the config fuzz target).
            "sexagesimal overflow",
            "data: d\nstate: s\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: local, path: r, locations: 33:33:33:3:33:33:33:3:3:3:33:3:3}}\n",
            "regions.primary.locations must be a whole number, found a string", "valid: 1...256"
        ),
        (
            "a number past Int",
            "data: d\nstate: s\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: local, path: r, locations: 99999999999999999999}}\n",
            "regions.primary.locations must be a whole number", "valid: 1...256"
        ),
        (
            "too few locations", "data: d\nstate: s\nkeys: {master: file:keys/master.key}\nregions: {primary: {backend: local, path: r, locations: 4}}\n",
            "has 4 locations but shards need 6", "at least 6"
        ),
    ])
    func badConfigurationIsLocatedAndExplained(_ name: String, _ text: String, _ expected: String, _ hint: String) throws {
        let f = try ConfigFixture(config: text)
        let found = problems { _ = try f.load() }
        #expect(found.contains { $0.contains(expected) && $0.contains(hint) && $0.hasPrefix(f.configPath) }, "\(name): \(found)")
    }

    @Test func keyFileReadableByOthersIsRejected() throws {
        let f = try ConfigFixture()
        chmod(f.dir.file("keys/master.key"), 0o644)
        let found = problems { _ = try f.load() }
        #expect(found.contains { $0.contains("mode 644") && $0.contains("chmod 600") }, "\(found)")
    }

    @Test func keyFileThatCannotBeReadIsRejected() throws {
        let f = try ConfigFixture()
        let key = f.dir.file("keys/master.key")
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.createDirectory(atPath: key, withIntermediateDirectories: true)
        let found = problems { _ = try f.load() }
        #expect(!found.isEmpty && found.allSatisfy { $0.contains("master.key") }, "\(found)")
    }
}

@Suite struct JobFileTests {
    let fixture: ConfigFixture
    let config: LeafguardConfig

    init() throws {
        fixture = try ConfigFixture()
        config = try fixture.load()
    }

    func check(_ text: String) throws -> [String] {
        let path = try fixture.job("j.yml", text)
        return problems { _ = try JobLoader(config: config).load(files: [path]) }
    }

    @Test func shippedJobsAreValid() throws {
        let dir = packageRoot + "/jobs"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yml") }.sorted().map { dir + "/" + $0 }
        let jobs = try JobLoader(config: config).load(files: files)
        #expect(
            Set(jobs.map(\.name)) == [
                "nightly-backup", "weekly-prune", "quarterly-key-rotation", "daily-compliance", "hourly-activity-seal", "weekly-restore-drill",
            ])
        let nightly = try #require(jobs.first { $0.name == "nightly-backup" })
        #expect(nightly.steps.map { type(of: $0).name } == ["backup", "replicate", "verify"])
        #expect((nightly.steps[1] as? ReplicateStep)?.to == "backup")
        #expect((nightly.steps[2] as? VerifyStep)?.readDataPercent == 5)
    }

    @Test func stepsAreTypedAndDefaulted() throws {
        let path = try fixture.job(
            "ok.yml",
            "name: x\nschedule: '@daily'\ntimezone: Europe/Paris\nsteps:\n  - backup\n  - {prune: {keep_daily: 7}}\n  - scan: {formats: [json, md], fail_on: high}\n"
        )
        let job = try #require(try JobLoader(config: config).load(files: [path]).first)
        #expect(job.timeZone.identifier == "Europe/Paris" && job.timeZoneName == "Europe/Paris")
        #expect((job.steps[0] as? BackupStep)?.region == "primary")
        #expect((job.steps[1] as? PruneStep)?.keep == ["keep_daily": 7])
        #expect((job.steps[2] as? ScanStep)?.formats == [.json, .md])
        #expect((job.steps[2] as? ScanStep)?.failOn == .high)
    }

    @Test(arguments: [
        ("name: x\nsteps: [backupp]\n", ":2:9: unknown step 'backupp'", "did you mean 'backup'?"),
        ("name: x\nsteps:\n  - replicate\n", ":3:5: step 'replicate' needs the parameter 'to'", "{replicate: {to: …}}"),
        ("name: x\nsteps:\n  - replicate: {to: offsite}\n", ":3:21: region 'offsite' does not exist", "defined regions: primary, backup"),
        ("name: x\nschedule: '0 0 31 2 *'\nsteps: [backup]\n", ":2:11: invalid schedule: '0 0 31 2 *' can never fire", ""),
        ("name: x\nschedule: '* * *'\nsteps: [backup]\n", ":2:11: invalid schedule", "5: minute hour"),
        ("name: x\ntimezone: Mars/Olympus\nsteps: [backup]\n", ":2:11: unknown time zone 'Mars/Olympus'", "IANA"),
        ("name: x\nsteps:\n  - prune: {keep_daily: seven}\n", ":3:25: steps[0].prune.keep_daily must be a whole number", ""),
        ("name: x\nsteps:\n  - prune: {}\n", "prune needs at least one keep rule", "keep_daily"),
        ("name: x\nsteps:\n  - verify: {read_data: 150}\n", ":3:25: steps[0].verify.read_data is 150, out of range", "0...100"),
        ("name: x\nstep: [backup]\n", ":2:1: unknown key 'step'", "did you mean 'steps'?"),
        ("name: x\nsteps: []\n", "steps is empty", "at least one step"),
        ("name: x\nsteps:\n  - backup: {region: primary, extra: 1}\n", ":3:31: unknown key 'extra' in steps[0].backup", "valid keys: region"),
        ("name: x\nsteps:\n  - scan: {formats: [pdf]}\n", "steps[0].scan.formats[0] is 'pdf'", "valid: json, csv, html, md"),
        ("steps: [backup]\n", "missing the required key 'name'", ""),
        ("name: x\nsteps: {backup: {}}\n", "steps must be a list", ""),
        ("name: x\nsteps:\n  - [backup]\n", "a step must be a name or a mapping", ""),
        ("name: x\nsteps:\n  - {backup: {}, verify: {}}\n", "found 2 keys", "'- backup'"),
        ("name: 'bad name!'\nsteps: [backup]\n", "may hold only letters", ""),
        ("name: x\n  steps: [backup\n", "YAML syntax", ""),
    ])
    func badJobFilesAreLocatedAndExplained(_ text: String, _ expected: String, _ hint: String) throws {
        let found = try check(text)
        #expect(found.contains { $0.contains(expected) && (hint.isEmpty || $0.contains(hint)) }, "\(found)")
        #expect(found.allSatisfy { $0.hasPrefix(fixture.dir.file("jobs/j.yml")) })
    }

    @Test func everyProblemInAFileIsReportedAtOnce() throws {
        let found = try check("name: x\nschedule: 'nope'\nsteps: [backupp, {replicate: {to: nowhere}}]\nextra: 1\n")
        #expect(found.count == 4, "\(found)")
    }

    @Test func duplicateJobNamesAreRejected() throws {
        let a = try fixture.job("a.yml", "name: same\nsteps: [backup]\n")
        let b = try fixture.job("b.yml", "name: same\nsteps: [backup]\n")
        let found = problems { _ = try JobLoader(config: config).load(files: [a, b]) }
        #expect(found.contains { $0.contains("already used by") })
    }
}

/// How a whole number is read from YAML: every spelling YAML gives one, nothing that could
/// trap, nothing past Int.
@Suite struct YAMLIntegerTests {
    @Test(arguments: [
        ("42", 42), ("+7", 7), ("-3", -3), ("1_000", 1000), ("0x1f", 31), ("0o17", 15), ("0b101", 5),
        ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min),
    ])
    func wholeNumbersAreRead(_ text: String, _ value: Int) {
        #expect(YAMLValue.integer(text) == value)
    }

    @Test(arguments: ["9223372036854775808", "-9223372036854775809", "33:33:33:3:33:33:33:3:3:3:33:3:3", "1:30", "1.5", "_1", "1_", "0x", "", "-", "six"])
    func anythingElseIsNotANumber(_ text: String) {
        #expect(YAMLValue.integer(text) == nil)
    }
}
