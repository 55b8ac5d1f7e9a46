import Foundation
import LeafConfig
import LeafKeys
import LeafTestSupport

/// A minimal valid deployment: config, a 0600 key file and a jobs folder.
struct ConfigFixture {
    let dir = TemporaryDirectory("leafguard-config")
    var configPath: String { dir.file("leafguard.yml") }

    static let validConfig = """
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

    init(config: String = ConfigFixture.validConfig) throws {
        try dir.write("leafguard.yml", config)
        try MasterKeySource.createKeyFile(at: dir.file("keys/master.key"))
        try FileManager.default.createDirectory(atPath: dir.file("jobs"), withIntermediateDirectories: true)
    }

    @discardableResult
    func job(_ name: String, _ text: String) throws -> String { try dir.write("jobs/\(name)", text) }

    func load() throws -> LeafguardConfig { try ConfigLoader.load(path: configPath) }
}

/// The problems a configuration error lists, as text.
func problems(_ body: () throws -> Void) -> [String] {
    do { try body(); return [] } catch let e as ConfigurationError {
        return e.problems.map(\.description)
    } catch { return ["unexpected \(error)"] }
}
