import Foundation
import LeafConfig
import LeafKeys
import LeafRepository
import LeafS3
import LeafStorage
import Logging

/// A configuration turned into the things commands and steps use: the master key and
/// each region's repository.
public struct Deployment: Sendable {
    public let config: LeafguardConfig

    public init(config: LeafguardConfig) { self.config = config }

    public var scratchDirectory: String { config.stateDirectory + "/tmp" }

    /// The key `keys.master` names: master-key version 1 until the first rotation, and the
    /// key that unlocks the keyring after it.
    public func keyringKey() throws -> MasterKey {
        let source: MasterKeySource
        switch config.masterKey {
        case .file(let path): source = .file(path: path)
        case .environment(let v): source = .environment(variable: v)
        case .passphraseEnvironment(let v):
            source = .passphraseEnvironment(variable: v, stateDirectory: config.stateDirectory)
        }
        return try source.load()
    }

    /// Every master-key version, from `STATE/keys/keyring.json` (or the configured key alone).
    public func keyring() throws -> Keyring {
        try Keyring.open(stateDirectory: config.stateDirectory, keyringKey: try keyringKey())
    }

    /// The active master-key version.
    public func masterKey() throws -> MasterKey { try keyring().active }

    /// The storage locations of a region, in order.
    public func locations(of region: RegionConfig) throws -> [any ObjectStore] {
        switch region.backend {
        case .local(let path):
            return (0..<region.locations).map { LocalStore(name: "\(region.name)/loc\($0)", root: path + "/loc\($0)") }
        case .s3(let s):
            let credentials = try AWSCredentials.load(profile: s.profile)
            let endpoint = s.endpoint.flatMap(URL.init(string:)).map { S3Endpoint(url: $0, region: s.region, pathStyle: s.pathStyle) }
                ?? S3Endpoint.aws(region: s.region)
            // One client (one connection pool) for the whole region.
            let client = S3Client(endpoint: endpoint, credentials: credentials)
            return (0..<region.locations).map { i in
                let (bucket, prefix) = s.location(i)
                return S3Store(name: "\(region.name)/loc\(i)", client: client, location: S3Location(bucket: bucket, prefix: prefix))
            }
        }
    }

    /// Opens a region's repository (creating it when `create` is set and it does not exist).
    public func repository(_ regionName: String, create: Bool = false) throws -> Repository {
        guard let region = config.region(named: regionName) else {
            throw StepError("region '\(regionName)' is not in \(config.file); defined: \(config.regionNames.joined(separator: ", "))")
        }
        let ring = try keyring()
        return try Repository.open(region: region.name, locations: locations(of: region), master: ring.active,
                                   decryptKeys: ring.decryptable, create: create)
    }

    /// Runs `body` on the repository of every region that holds one and returns the regions
    /// where it succeeded. A region with no repository yet is skipped quietly; any other
    /// failure is logged as a warning about `what`.
    public func forEachRepository(logger: Logger, _ what: String, _ body: (Repository) throws -> Void) -> [String] {
        var done: [String] = []
        for region in config.regionNames {
            do { try body(try repository(region)); done.append(region) } catch RepositoryError.notInitialized {
                continue
            } catch {
                logger.warning("cannot \(what) in a region", metadata: ["region": "\(region)", "error": "\(error)"])
            }
        }
        return done
    }

    /// The repositories of every other region that holds one: copies of `region`'s data,
    /// to take shards from when `region` cannot supply them.
    public func otherRepositories(than region: String) -> [Repository] {
        config.regionNames.filter { $0 != region }.compactMap { try? repository($0) }
    }
}
