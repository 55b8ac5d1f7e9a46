import Foundation
import LeafConfig
import LeafDemo
import LeafDigest
import LeafKeys
import Testing

// Deployments on disk for the CLI tests, from a configuration alone to one that has lived
// a while, and the checks tests make on them.

/// A minimal valid deployment: config, a 0600 key file and a jobs folder.
public struct ConfigFixture: Sendable {
    public let dir = TemporaryDirectory("leafguard-config")
    public var configPath: String { dir.file("leafguard.yml") }

    public static let validConfig = """
        data: planner-data
        state: state
        keys:
          master: file:keys/master.key
        regions:
          primary: { backend: local, path: regions/primary, locations: 6 }
          backup:  { backend: local, path: regions/backup,  locations: 6 }
        shards: { data: 4, parity: 2 }
        jobs: jobs

        """

    public init(config: String = ConfigFixture.validConfig) throws {
        try dir.write("leafguard.yml", config)
        try MasterKeySource.createKeyFile(at: dir.file("keys/master.key"))
        try FileManager.default.createDirectory(atPath: dir.file("jobs"), withIntermediateDirectories: true)
    }

    @discardableResult
    public func job(_ name: String, _ text: String) throws -> String { try dir.write("jobs/\(name)", text) }

    public func load() throws -> LeafguardConfig { try ConfigLoader.load(path: configPath) }
}

/// Small generated planner data, made once and copied into each test's folder.
public enum SharedPlannerData {
    private static let folder: TemporaryDirectory = {
        let folder = TemporaryDirectory("leafguard-shared")
        folder.keepUntilExit()
        return folder
    }()

    public static let path: String = {
        let dir = folder.file("planner-data")
        var g = PlannerDataGenerator(accounts: 4, seed: 42)
        g.documentScale = 0.15
        g.activityPerAccount = 300
        _ = try! g.generate(into: dir)
        return dir
    }()
}

/// Files below `a` and `b` are the same set with the same bytes.
public func sameTree(_ a: String, _ b: String, only sub: String = "documents") -> Bool {
    let fa = filesBelow(a + "/" + sub)
    let fb = filesBelow(b + "/" + sub)
    guard fa == fb, !fa.isEmpty else { return false }
    return fa.allSatisfy { FileManager.default.contentsEqual(atPath: a + "/" + sub + "/" + $0, andPath: b + "/" + sub + "/" + $0) }
}

/// A deployment on disk for CLI tests: config, key, a backup-only job and planner data.
public struct DeploymentFixture: Sendable {
    public let dir = TemporaryDirectory("leafguard-cli")
    public var config: String { dir.file("leafguard.yml") }

    public init() throws {
        let f = try ConfigFixture()
        try FileManager.default.removeItem(atPath: dir.path)
        try FileManager.default.copyItem(atPath: f.dir.path, toPath: dir.path)
        try dir.write("jobs/backup-only.yml", "name: backup-only\nsteps: [backup]\n")
        let r = try runCommand("/bin/cp", ["-a", SharedPlannerData.path, dir.file("planner-data")])
        precondition(r.status == 0)
    }

    /// A copy of the deployment in `template`, in a folder of its own, without the entries
    /// of its top folder that `except` names.
    public init(copying template: String, except: (String) -> Bool = { _ in false }) throws {
        let entries = try FileManager.default.contentsOfDirectory(atPath: template).filter { !except($0) }.map { template + "/" + $0 }
        let r = try runCommand("/bin/cp", ["-a"] + entries + [dir.path])
        precondition(r.status == 0, "cp -a \(template): \(r.all)")
    }

    public var keyBytes: [UInt8] { [UInt8](FileManager.default.contents(atPath: dir.file("keys/master.key"))!) }

    /// Marks the deployment a drill copy (`drill_copy: true`): `run` and `tick` then take `--now`.
    public func markDrillCopy() throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try dir.write("leafguard.yml", text + "\ndrill_copy: true\n")
    }

    /// Makes the master key a passphrase read from the environment variable `variable`.
    public func usePassphrase(from variable: String) throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try dir.write("leafguard.yml", text.replacingOccurrences(of: "master: file:keys/master.key", with: "master: passphrase-env:\(variable)"))
    }
}

/// Just enough of "any JSON value" to read the CLI's JSON output.
public struct AnyCodable: Decodable {
    public let string: String?
    public let int: Int?
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        string = try? c.decode(String.self)
        int = try? c.decode(Int.self)
    }
}

/// Adds a random document of `megabytes` to the planner data, as the application would.
public func addDocument(to d: DeploymentFixture, megabytes: Int) throws {
    let bytes = [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).read(upToCount: megabytes << 20) ?? Data())
    let rel = "1/added-\(UUID().uuidString).pdf"
    FileManager.default.createFile(atPath: d.dir.file("planner-data/documents/" + rel), contents: Data(bytes))
    let sql =
        "INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_at) VALUES (1, 'legal', 'x.pdf', '\(rel)', \(bytes.count), '\(SHA256.hash(bytes).hexString)', '2026-11-29T00:00:00Z')"
    let r = try runCommand("/usr/bin/sqlite3", [d.dir.file("planner-data/planner.db"), sql])
    if r.status != 0 { throw CommandFailed(command: "sqlite3", output: r.all) }
}

/// A deployment that has lived a while: three snapshots in both regions, two key rotations
/// between them, and a copy of the planner data as each snapshot saw it.
public struct DisasterFixture: Sendable {
    public let d: DeploymentFixture
    /// Snapshot id → the folder holding the data it saved.
    public private(set) var expected: [(id: String, data: String)] = []
    public var config: String { d.config }
    public func file(_ name: String) -> String { d.dir.file(name) }

    /// A copy of a deployment built once per test process (per passphrase choice): the
    /// three snapshots cost a dozen commands, and most tests only damage their own copy.
    /// `fresh` builds one from scratch: another repository, with keys of its own.
    public init(passphrase: Bool = false, fresh: Bool = false) throws {
        if fresh {
            try self.init(building: passphrase)
        } else {
            try self.init(copying: try (passphrase ? Self.passphraseTemplate : Self.template).get())
        }
    }

    private static let template = Result { try DisasterFixture(building: false).keptUntilExit() }
    private static let passphraseTemplate = Result { try DisasterFixture(building: true).keptUntilExit() }

    /// This fixture, its folder kept until the test process exits (a template).
    public func keptUntilExit() -> DisasterFixture {
        d.dir.keepUntilExit()
        return self
    }

    /// A copy of `other`, in a folder of its own: the same repository, keys and snapshots
    /// (every path in leafguard.yml is relative to its folder). The copies of the data each
    /// snapshot saved are not copied: `expected` names `other`'s, which no test changes.
    public init(copying other: DisasterFixture) throws {
        d = try DeploymentFixture(copying: other.d.dir.path, except: { $0.hasPrefix("expected-") })
        expected = other.expected
    }

    private init(building passphrase: Bool) throws {
        d = try DeploymentFixture()
        if passphrase { try d.usePassphrase(from: "LG_TEST_PASSPHRASE") }
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        try d.dir.write("jobs/scan.yml", "name: scan\nsteps: [{scan: {formats: [json]}}]\n")
        for round in 0..<3 {
            if round > 0 {
                try addDocument(to: d, megabytes: 1)
                try expectSuccess(["keys", "rotate"])
            }
            try expectSuccess(["run", "nightly"])
            let ids = try snapshotIDs()
            let copy = file("expected-\(round)")
            #expect(try runCommand("/bin/cp", ["-a", file("planner-data"), copy]).status == 0)
            expected.append((ids.last ?? "", copy))
        }
        #expect(Set(expected.map(\.id)).count == 3)
    }

    public static let passphraseEnvironment = ["LG_TEST_PASSPHRASE": "correct horse battery staple 42!"]

    /// Drops snapshot `id` from `expected` (a test forgot it).
    public mutating func forgetExpected(_ id: String) { expected.removeAll { $0.id == id } }

    /// Runs leafguard with this deployment's config (and the passphrase, harmless otherwise).
    public func run(_ arguments: [String]) throws -> CommandOutput {
        var env = ProcessInfo.processInfo.environment
        env.merge(Self.passphraseEnvironment) { _, b in b }
        return try leafguard(arguments + ["--config", config], environment: env)
    }

    public func expectSuccess(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try run(arguments)
        #expect(r.status == 0, "leafguard \(arguments.joined(separator: " ")): \(r.all)", sourceLocation: sourceLocation)
    }

    public func snapshotIDs(region: String = "primary") throws -> [String] {
        let list = try run(["snapshots", "list", "--json", "--region", region])
        guard list.status == 0 else { return [] }
        return try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(list.stdout.utf8)).compactMap { $0["id"]?.string }
    }

    /// Every snapshot restores from every region, its documents identical to what it saved.
    public func restoreEverySnapshot(_ label: String, regions: [String] = ["primary", "backup"], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for region in regions {
            #expect(try snapshotIDs(region: region) == expected.map(\.id), "\(label): snapshots in \(region)", sourceLocation: sourceLocation)
            for (id, data) in expected {
                let target = file("restore-\(label)-\(region)-\(id)")
                let r = try run(["restore", id, "--region", region, "--to", target])
                #expect(r.status == 0, "\(label): snapshot \(id) from \(region): \(r.all)", sourceLocation: sourceLocation)
                #expect(sameTree(data, target), "\(label): snapshot \(id) from \(region) differs from what it saved", sourceLocation: sourceLocation)
                try? FileManager.default.removeItem(atPath: target)
            }
        }
    }

    public func expectVerifyClean(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let v = try run(["verify", "--read-data"])
        #expect(v.status == 0 && !v.stdout.contains("PROBLEM"), "\(label): verify: \(v.all)", sourceLocation: sourceLocation)
    }
}

/// A command a fixture ran that failed, with what it printed.
public struct CommandFailed: Error, CustomStringConvertible {
    /// The command.
    public let command: String
    /// Its standard output and error.
    public let output: String
    /// The command and its output.
    public var description: String { "\(command): \(output)" }
}
