import Foundation
import LeafKeys

/// Creates a complete sample deployment: planner data, a master key (mode 0600), the
/// configuration and the shipped jobs. Running it again keeps what exists: the key is
/// never replaced (that would make existing backups unreadable) and the data is kept.
public struct DemoDeployment: Sendable {
    /// The folder the deployment is made in.
    public let directory: String
    /// What makes its planner data.
    public var generator: PlannerDataGenerator

    /// A demo deployment in `directory` with data from `generator`.
    public init(directory: String, generator: PlannerDataGenerator) {
        self.directory = directory; self.generator = generator
    }

    /// The demo's leafguard.yml: local regions of six locations each, four data and two parity shards.
    public static let configText = """
        # leafguard configuration for the demo deployment. Paths are relative to this file.
        data: planner-data                # the planner data directory (planner.db + documents/)
        state: state                      # leafguard's own catalog, locks, history, audit log
        keys:
          master: file:keys/master.key    # 32 random bytes, mode 0600; also env:VAR, passphrase-env:VAR
        regions:
          primary: { backend: local, path: regions/primary, locations: 6 }
          backup:  { backend: local, path: regions/backup,  locations: 6 }
        shards: { data: 4, parity: 2 }    # any 2 of 6 locations may be lost
        jobs: jobs

        """

    /// What `create` found or made.
    public struct Outcome: Sendable {
        /// The configuration file written (or found).
        public var configFile: String
        /// Whether a new master key was made (an existing one is never replaced).
        public var createdKey: Bool
        /// The planner data generated; nil when existing data was kept.
        public var data: GeneratedData?
        /// Whether planner data was already there and kept.
        public var keptExistingData: Bool
    }

    /// Makes whatever of the deployment is missing (folders, key, configuration, jobs, planner data) and keeps what exists.
    public func create() throws -> Outcome {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configFile = directory + "/leafguard.yml"
        if !fm.fileExists(atPath: configFile) {
            try Self.configText.write(toFile: configFile, atomically: true, encoding: .utf8)
        }
        let keyFile = directory + "/keys/master.key"
        var createdKey = false
        if !fm.fileExists(atPath: keyFile) {
            try MasterKeySource.createKeyFile(at: keyFile)
            createdKey = true
        }
        try fm.createDirectory(atPath: directory + "/jobs", withIntermediateDirectories: true)
        for (name, text) in ShippedJobs.files where !fm.fileExists(atPath: directory + "/jobs/" + name) {
            try (text + "\n").write(toFile: directory + "/jobs/" + name, atomically: true, encoding: .utf8)
        }
        let dataDir = directory + "/planner-data"
        if fm.fileExists(atPath: dataDir + "/planner.db") {
            return Outcome(configFile: configFile, createdKey: createdKey, data: nil, keptExistingData: true)
        }
        let data = try generator.generate(into: dataDir)
        return Outcome(configFile: configFile, createdKey: createdKey, data: data, keptExistingData: false)
    }
}
