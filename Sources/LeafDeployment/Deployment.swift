import Foundation
import LeafAudit
import LeafConcurrency
import LeafConfig
import LeafKeys
import LeafRepository
import LeafS3
import LeafStorage
import LeafTime
import Logging

/// A configuration turned into the things commands and steps use: the master key, the
/// keyring and each region's repository.
///
/// The keyring key (one Argon2id derivation under a passphrase) and the keyring are loaded
/// once per `Deployment` and kept; a keyring change made through `saveKeyring` refreshes them.
/// The keyring is read from the state folder *and* from the `keyring` object in every
/// location of every region, and the newest copy that authenticates wins: the state folder
/// is a cache, and a new host with only leafguard.yml and the key opens everything.
public final class Deployment: Sendable {
    /// leafguard.yml as loaded: regions, key source, state folder.
    public let config: LeafguardConfig
    /// What is loaded once and kept. The lock is held while the key is derived and the
    /// keyring read, so concurrent first uses wait for one derivation rather than each
    /// running their own.
    private struct Loaded {
        var key: MasterKey?
        var ring: Keyring?
        /// Per region, per location: the generation of the keyring copy there, nil when it
        /// is missing or does not authenticate. Filled when the keyring is loaded.
        var copyGenerations: [String: [UInt64?]] = [:]
        /// KMS's ciphertext of an `aws-kms:` keyring key, for the keyring to keep.
        var kms: KMSWrapping?
    }
    private let loaded = Locked(Loaded())

    /// A region's repository as opened, with the keyring it was opened under.
    private struct OpenedRepository {
        let generation: UInt64
        let active: UInt32
        let repository: Repository

        /// Whether it was opened under keyring generation `generation` with active version `active`.
        func isOpened(under generation: UInt64, active: UInt32) -> Bool { self.generation == generation && self.active == active }
    }
    /// Each region's repository, opened on first use and kept while the keyring it was opened
    /// under is the one in use: a rotation or any other keyring change opens it anew, with
    /// the new active key. Not held while a repository opens (that reads the keyring, under
    /// `loaded`); two first uses at once may both open, and the first kept wins.
    private let opened = Locked<[String: OpenedRepository]>([:])

    /// The time the repositories it opens record (pack seal times, locks, tombstones).
    public let clock: Clock

    /// A deployment of `config` whose repositories record the time of `clock`; nothing is loaded until first used.
    public init(config: LeafguardConfig, clock: Clock = Clock()) { self.config = config; self.clock = clock }

    /// The state folder's scratch space (`STATE/tmp`, 0700): database copies, drill folders.
    public var scratchDirectory: String { config.state.scratch }

    /// The name of the keyring's copy in every location.
    public static let keyringObject = "keyring"

    /// The key `keys.master` names: master-key version 1 until the first rotation, and the
    /// key that unlocks the keyring after it. A passphrase is stretched with the parameters
    /// the newest keyring copy records (the state folder's, else a region's).
    public func keyringKey() throws -> MasterKey {
        try loaded.withLock { l throws in try keyringKey(&l) }
    }

    private func keyringKey(_ l: inout Loaded) throws -> MasterKey {
        if let k = l.key { return k }
        let key: MasterKey
        switch config.masterKey {
        case .file(let path): key = try MasterKeySource.file(path: path).load()
        case .environment(let v): key = try MasterKeySource.environment(variable: v).load()
        case .passphraseEnvironment(let v):
            let source = MasterKeySource.passphraseEnvironment(variable: v, stateDirectory: config.stateDirectory)
            // The state folder's file first (it is what the last save wrote here), else the
            // region copy claiming the highest generation.
            var parameters = try Keyring.storedPassphraseParameters(stateDirectory: config.stateDirectory)
            if parameters == nil { parameters = newestRegionKeyringCopy().flatMap { Keyring.passphraseParameters(in: $0.bytes) } }
            key = try source.load(passphrase: parameters)
        case .awsKMS(let keyID):
            let (k, wrapping) = try kmsKeyringKey(keyID: keyID)
            key = k
            l.kms = wrapping
        }
        // Once per Deployment, and a command or a run opens one: the log says so, and
        // DeploymentOnceTests counts it.
        Logger(label: "leafguard.keys").debug("master key loaded", metadata: ["version": "\(key.version)"])
        l.key = key
        return key
    }

    /// Every master-key version: the state folder's keyring when it authenticates (the
    /// regions' copies are read only where they are written, checked or needed), else the
    /// newest authentic copy in the regions; the configured key alone before the
    /// deployment's first keyring was saved.
    public func keyring() throws -> Keyring {
        try loaded.withLock { l throws in try keyring(&l) }
    }

    /// The audit keys: the current signer and every earlier key the keyring keeps.
    public func auditKeys() throws -> AuditKeyChain {
        let ring = try keyring()
        return try AuditKeyChain(current: ring.auditSeed, previous: ring.previousAuditSeeds)
    }

    private func keyring(_ l: inout Loaded) throws -> Keyring {
        if let r = l.ring { return r }
        let key = try keyringKey(&l)
        let statePath = Keyring.path(stateDirectory: config.stateDirectory)
        let legacy = FileManager.default.contents(atPath: statePath).map { Keyring.isLegacy([UInt8]($0)) } ?? false
        if !legacy, FileManager.default.fileExists(atPath: statePath),
            let ring = try? Keyring.open(stateDirectory: config.stateDirectory, keyringKey: key, now: clock.now)
        {
            l.ring = ring
            return ring
        }
        let copies = regionKeyringCopies()
        // A legacy keyring (no MAC, no generation: nothing vouches for it) is read only
        // where it can be: while no region holds an authenticated one. Otherwise it is an old
        // file put back (a restored host backup) or a forged one, and opening it would wrap new
        // data keys under a version rotated away.
        if legacy {
            let authentic = copies.compactMap { c in Keyring.authenticatedGeneration(of: c.copy.bytes, keyringKey: key).map { (c.copy.source, $0) } }
            if let newest = authentic.max(by: { $0.1 < $1.1 }) {
                throw KeyError(
                    "keyring \(statePath) is in the legacy format (no MAC, no generation), but the regions hold authenticated keyrings "
                        + "(generation \(newest.1) in \(newest.0), \(authentic.count) copies): it is refused as a downgrade. Move it out of the "
                        + "state folder; leafguard then reads the regions' newest copy")
            }
        }
        var passphrase: PassphraseParameters?
        if case .passphraseEnvironment = config.masterKey {
            passphrase = try? MasterKeySource.storedOrNewPassphraseParameters(stateDirectory: config.stateDirectory)
        }
        let ring = try Keyring.open(
            stateDirectory: config.stateDirectory, keyringKey: key,
            copies: copies.map(\.copy), passphrase: passphrase, kms: l.kms, now: clock.now)
        // A copy altered outside leafguard is outvoted (and the state file rewritten from the
        // newest authentic copy), but never silently.
        for reason in ring.rejected {
            Logger(label: "leafguard").warning("a keyring copy was refused", metadata: ["reason": "\(reason)"])
        }
        for region in config.regions {
            var g = [UInt64?](repeating: nil, count: region.locations)
            for c in copies where c.region == region.name && c.location < g.count { g[c.location] = ring.authenticCopies[c.copy.source] }
            l.copyGenerations[region.name] = g
        }
        l.ring = ring
        return ring
    }

    /// The keyring key of an `aws-kms:` source: KMS opens the ciphertext the keyring records
    /// (the state folder's copy, else the newest region copy, else the file kept before the
    /// first keyring was saved); with none anywhere (a new deployment) KMS makes a data key,
    /// whose ciphertext is kept in the state folder until the keyring, saved to every
    /// location of every region, holds it. No key is ever stored on the host.
    private func kmsKeyringKey(keyID: String) throws -> (MasterKey, KMSWrapping) {
        let client = try kmsClient()
        let statePath = Keyring.path(stateDirectory: config.stateDirectory)
        var wrapping = FileManager.default.contents(atPath: statePath).flatMap { Keyring.kmsWrapping(in: [UInt8]($0)) }
        if wrapping == nil { wrapping = newestRegionKeyringCopy().flatMap { Keyring.kmsWrapping(in: $0.bytes) } }
        if wrapping == nil { wrapping = KMSWrapping.read(config.state.kmsKeyringKey) }
        do {
            if let wrapping {
                guard let blob = wrapping.ciphertextBytes else { throw KeyError("the keyring's KMS ciphertext is not base64: the keyring is damaged") }
                return (MasterKey(version: 1, secret: try client.decrypt(blob, keyID: keyID, context: wrapping.context)), wrapping)
            }
            let (key, fresh) = try newKMSKeyringKey(keyID: keyID, client: client)
            try fresh.write(config.state.kmsKeyringKey)
            return (key, fresh)
        } catch let e as KMSError {
            throw KeyError(e.description)
        }
    }

    /// The KMS client `keys.kms` describes.
    func kmsClient() throws -> KMSClient {
        guard let settings = config.kms else {
            throw KeyError("an aws-kms key needs keys.kms: {region: …} in \(config.file)", configuration: true)
        }
        guard let endpoint = settings.endpoint.map({ KMSEndpoint(url: $0, region: settings.region) }) ?? KMSEndpoint.aws(region: settings.region)
        else { throw KeyError("keys.kms.region '\(settings.region)' is not an AWS region name", configuration: true) }
        return KMSClient(endpoint: endpoint, credentials: try AWSCredentials.load(profile: settings.profile))
    }

    /// A fresh keyring key from KMS key `keyID` (a new deployment's, or `keys change-key
    /// --new-key aws-kms:KEY`'s): the context names this deployment with a random id, so a
    /// data key of another deployment under the same KMS key does not open as this one's.
    func newKMSKeyringKey(keyID: String, client: KMSClient? = nil) throws -> (MasterKey, KMSWrapping) {
        let context = ["leafguard:purpose": "keyring-key", "leafguard:deployment": ObjectID.random().hex]
        do {
            let made = try (client ?? kmsClient()).generateDataKey(keyID: keyID, context: context)
            return (MasterKey(version: 1, secret: made.plaintext), KMSWrapping(keyId: made.keyARN, ciphertext: made.ciphertext, context: context))
        } catch let e as KMSError {
            throw KeyError(e.description)
        }
    }

    /// The region keyring copy claiming the highest generation: where a key source's
    /// unsecret parameters (a passphrase's salt, KMS's ciphertext) are read before any copy
    /// can be authenticated (altered ones give a key that opens nothing).
    private func newestRegionKeyringCopy() -> KeyringCopy? {
        regionKeyringCopies().map(\.copy).max { (Keyring.claimedGeneration($0.bytes) ?? 0) < (Keyring.claimedGeneration($1.bytes) ?? 0) }
    }

    /// The keyring object of every location of every region that has one.
    private func regionKeyringCopies() -> [(region: String, location: Int, copy: KeyringCopy)] {
        config.regions.flatMap { keyringCopies(in: $0) }
    }

    private func keyringCopies(in region: RegionConfig) -> [(region: String, location: Int, copy: KeyringCopy)] {
        guard let locations = try? locations(of: region) else { return [] }
        var out: [(String, Int, KeyringCopy)] = []
        for (i, loc) in locations.enumerated() {
            if let bytes = try? loc.get(Self.keyringObject) {
                out.append((region.name, i, KeyringCopy(source: loc.name + "/" + Self.keyringObject, bytes: bytes)))
            }
        }
        return out
    }

    /// The authentic generation of each location's keyring copy in `region` (nil: missing or
    /// not authentic), read once per region and kept.
    private func copyGenerations(in region: RegionConfig) throws -> [UInt64?] {
        if let known = loaded.withLock({ $0.copyGenerations[region.name] }) { return known }
        let key = try keyringKey()
        var g = [UInt64?](repeating: nil, count: region.locations)
        for c in keyringCopies(in: region) where c.location < g.count {
            g[c.location] = Keyring.authenticatedGeneration(of: c.copy.bytes, keyringKey: key)
        }
        loaded.withLock { $0.copyGenerations[region.name] = g }
        return g
    }

    /// Takes `ring`, just re-sealed under `key` by this process, as the keyring and key in
    /// use (the configuration still names the old source until the operator edits it).
    public func adoptKeyring(_ ring: Keyring, key: MasterKey) {
        loaded.withLock { l in
            Self.forgetKeyring(&l)
            l.key = key
            l.ring = ring
        }
    }

    /// Forgets the loaded keyring (and, when `key` is set, the keyring key): the next use
    /// reads them again. For after a change made through another `Keyring` value.
    public func reloadKeyring(key: Bool = false) {
        loaded.withLock { l in
            Self.forgetKeyring(&l)
            if key { l.key = nil }
        }
    }

    /// Forgets the loaded keyring and the generations of the copies read with it, which
    /// describe that keyring and are read again with the next.
    private static func forgetKeyring(_ l: inout Loaded) {
        l.ring = nil
        l.copyGenerations = [:]
    }

    /// The active master-key version.
    public func masterKey() throws -> MasterKey { try keyring().active }

    /// Master-key version `version`, reading the keyring again when the loaded one lacks it
    /// (another process rotated the key since this one loaded it); nil when it still does.
    func masterKey(laterVersion version: UInt32) -> MasterKey? {
        loaded.withLock { l in
            if let k = l.ring?.decryptable[version] { return k }
            Self.forgetKeyring(&l)
            return (try? keyring(&l))?.decryptable[version]
        }
    }

    /// Writes the current keyring to every location of `region` whose copy is missing, out of
    /// date or does not authenticate: replaced, synced and read back, so that nothing stored
    /// under a version depends on a keyring the region lacks. Saves the deployment's first
    /// keyring file when there is none yet. Throws naming the locations it could not update.
    public func publishKeyring(to regionName: String) throws {
        var ring = try keyring()
        if ring.generation == 0 {
            try ring.saveIfNew()
            reloadKeyring()
            ring = try keyring()
        }
        guard let region = config.region(named: regionName) else { throw unknownRegion(regionName) }
        var known = try copyGenerations(in: region)
        if let newest = known.compactMap({ $0 }).max(), newest > ring.generation {
            // The region holds a newer keyring than the state folder (restored from an old
            // copy, say): adopt it rather than roll the region back.
            let key = try keyringKey()
            let adopted = try Keyring.open(
                stateDirectory: config.stateDirectory, keyringKey: key, copies: keyringCopies(in: region).map(\.copy), now: clock.now)
            loaded.withLock { $0.ring = adopted }
            ring = adopted
            known = try copyGenerations(in: region)
        }
        let bytes = ring.savedBytes
        var problems: [String] = []
        for (i, loc) in try locations(of: region).enumerated() where i >= known.count || known[i] != ring.generation {
            do {
                try loc.prepare()
                try loc.replace(Self.keyringObject, bytes)
                try loc.sync()
                guard try loc.holds(Self.keyringObject, exactly: bytes) else { throw DeploymentError.readBackDiffers }
                loaded.withLock { $0.copyGenerations[regionName]?[i] = ring.generation }
            } catch { problems.append("\(loc.name): \(error)") }
        }
        if problems.count > tolerableFailures(region) {
            throw DeploymentError.keyringNotStored(region: regionName, problems: problems)
        }
        writeProblems.withLock { $0 += problems.map { "keyring: " + $0 } }
    }

    /// Locations of `region` whose keyring copy is missing, older than the keyring in use or
    /// not authentic (for verify).
    public func staleKeyringCopies(in regionName: String) throws -> [String] {
        var ring = try keyring()
        guard ring.generation > 0, let region = config.region(named: regionName) else { return [] }
        var known = try copyGenerations(in: region)
        if known.contains(where: { ($0 ?? 0) > ring.generation }) {
            // A copy newer than this process's keyring: another process changed the keyring
            // (a rotation during a backup). Behind is this process, not the copy: read again.
            loaded.withLock { Self.forgetKeyring(&$0) }
            ring = try keyring()
            known = try copyGenerations(in: region)
        }
        return (0..<region.locations).filter { $0 >= known.count || (known[$0] ?? 0) < ring.generation }.map { "\(regionName)/loc\($0)" }
    }

    func unknownRegion(_ name: String) -> DeploymentError {
        .unknownRegion(name, file: config.file, defined: config.regionNames)
    }

    /// Each S3 region's circuit breaker, shared by every store of the region this deployment
    /// makes (repositories, keyring copies, identity checks): a dead server costs one round
    /// of retries per process.
    private let breakers = Locked<[String: CircuitBreaker]>([:])

    private func breaker(of region: String) -> CircuitBreaker {
        breakers.withLock { b in
            if let known = b[region] { return known }
            let made = CircuitBreaker()
            b[region] = made
            return made
        }
    }

    /// Requests in flight at once to one S3 region, over all its locations.
    static let s3RequestsPerRegion = 16

    /// The storage locations of a region, in order. Every read is bounded by what its name
    /// can hold (`ObjectNames`): one location's planted object cannot make a run allocate
    /// more, nor be read at all under a name the repository never writes.
    public func locations(of region: RegionConfig) throws -> [any ObjectStore] {
        try unboundedLocations(of: region).map { BoundedStore($0, maximumSize: ObjectNames.maximumSize(of:)) }
    }

    private func unboundedLocations(of region: RegionConfig) throws -> [any ObjectStore] {
        switch region.backend {
        case .local(let path):
            return (0..<region.locations).map { LocalStore(name: "\(region.name)/loc\($0)", root: path + "/loc\($0)") }
        case .s3(let s):
            let credentials = try AWSCredentials.load(profile: s.profile)
            guard
                let endpoint = s.endpoint.flatMap(URL.init(string:)).map({ S3Endpoint(url: $0, region: s.region, pathStyle: s.pathStyle) })
                    ?? S3Endpoint.aws(region: s.region)
            else { throw DeploymentError.noEndpoint(region: region.name, s3Region: s.region, file: config.file) }
            // One client (one connection pool) and one request limit for the whole region;
            // each location retries its own transient failures, outside the limit, so a
            // request waiting out its backoff holds no slot.
            let client = S3Client(endpoint: endpoint, credentials: credentials, maxConnections: Self.s3RequestsPerRegion)
            let limit = RequestLimit(width: Self.s3RequestsPerRegion)
            let breaker = breaker(of: region.name)
            return (0..<region.locations).map { i in
                let (bucket, prefix) = s.location(i)
                let store = S3Store(name: "\(region.name)/loc\(i)", client: client, location: S3Location(bucket: bucket, prefix: prefix))
                return RetryingStore(LimitedStore(store, limit: limit), policy: .standard, breaker: breaker)
            }
        }
    }

    /// Opens a region's repository. With `create` (a backup writes to it) the region first
    /// receives the current keyring, and a repository is created only when this is the
    /// deployment's first: the state folder knows none and no region holds one. Otherwise a
    /// region without a repository is lost (or mistyped): `regionLost`, nothing written.
    public func repository(_ regionName: String, create: Bool = false) throws -> Repository {
        guard let region = config.region(named: regionName) else { throw unknownRegion(regionName) }
        let ring = try keyring()
        let active = try ring.active.version
        if let kept = opened.withLock({ $0[regionName] }), kept.isOpened(under: ring.generation, active: active) {
            if create { try publishKeyring(to: regionName) }
            return kept.repository
        }
        let repo = try open(region, ring: ring, create: create)
        if create { try publishKeyring(to: regionName) }
        // Kept under the keyring in use now: opening may have read a newer one, and the
        // deployment's first keyring is saved by the publishing.
        let generation = try keyring().generation
        return opened.withLock { o in
            if let first = o[regionName], first.isOpened(under: generation, active: repo.master.version) { return first.repository }
            o[regionName] = OpenedRepository(generation: generation, active: repo.master.version, repository: repo)
            return repo
        }
    }

    /// Opens a region's repository for a command an operator names it in (list, restore):
    /// a region without one, while the deployment's repository is known elsewhere, is
    /// `regionLost`, with the same rebuild advice a backup's refusal gives, rather than
    /// `notInitialized`, whose advice ('leafguard init') would be refused.
    public func existingRepository(_ regionName: String) throws -> Repository {
        do { return try repository(regionName) } catch RepositoryError.notInitialized(let r) {
            if let (id, from, rebuild) = try knownRepository(except: r) {
                throw RepositoryError.regionLost(region: r, repository: id, knownFrom: from, rebuildFrom: rebuild)
            }
            throw RepositoryError.notInitialized(region: r)
        }
    }

    /// How many of a region's locations may refuse a write while the write still counts:
    /// the layout's parity, the number of locations a pack is designed to lose (one location
    /// is one vote, for writes too), and always fewer than the locations.
    func tolerableFailures(_ region: RegionConfig) -> Int { max(0, min(config.shards.parity, region.locations - 1)) }

    /// Writes that succeeded in enough locations but not in all, since the last call: each
    /// names the location and the reason. A job turns them into its step's warnings; verify
    /// --repair writes the missing copies once the location takes writes again.
    public func takeWriteProblems() -> [String] {
        let repositories = opened.withLock { $0.values.map(\.repository) }
        return writeProblems.withLock { p in
            defer { p = [] }; return p
        } + repositories.flatMap { $0.takeWriteProblems() }
    }

    private let writeProblems = Locked<[String]>([])

    /// Opens `region`'s repository under `ring` (see `repository(_:create:)`).
    private func open(_ region: RegionConfig, ring: Keyring, create: Bool) throws -> Repository {
        let regionName = region.name
        var ring = ring
        let repo: Repository
        do {
            do {
                repo = try Repository.open(
                    region: region.name, locations: locations(of: region), master: try ring.active,
                    decryptKeys: ring.decryptable, create: false, tolerableFailures: tolerableFailures(region), clock: clock)
            } catch RepositoryError.wrongMasterKey(let version, _) where masterKey(laterVersion: version) != nil {
                // Another process rotated the master key since this one read the keyring.
                ring = try keyring()
                repo = try Repository.open(
                    region: region.name, locations: locations(of: region), master: try ring.active,
                    decryptKeys: ring.decryptable, create: false, tolerableFailures: tolerableFailures(region), clock: clock)
            }
        } catch RepositoryError.notInitialized where create {
            if let (id, from, rebuild) = try knownRepository(except: regionName) {
                throw RepositoryError.regionLost(region: regionName, repository: id, knownFrom: from, rebuildFrom: rebuild)
            }
            repo = try Repository.open(
                region: region.name, locations: locations(of: region), master: try ring.active,
                decryptKeys: ring.decryptable, create: true, tolerableFailures: tolerableFailures(region), clock: clock)
        }
        try checkIdentity(repo)
        repo.lookUpLaterVersions { [self] version in masterKey(laterVersion: version) }
        // Once per region per keyring in a process: DeploymentOnceTests counts it.
        Logger(label: "leafguard.repository").debug("repository opened", metadata: ["region": "\(regionName)"])
        return repo
    }

    /// `STATE/repository-id`: the id of the deployment's repository, written once it is known.
    var repositoryIDFile: String { config.state.repositoryID }

    /// The repository the deployment is known to have apart from `region`: the id the state
    /// folder recorded, or the config of any other region, with where it was seen and a
    /// region to rebuild from.
    func knownRepository(except region: String) throws -> (id: String, from: String, rebuild: String?)? {
        for other in config.regions where other.name != region {
            guard let stores = try? locations(of: other) else { continue }
            for loc in stores {
                guard let bytes = try? loc.get("config"), let header = try? EnvelopeHeader.decode(bytes) else { continue }
                return (header.objectID.hex, "region '\(other.name)'", other.name)
            }
        }
        if let text = try? String(contentsOfFile: repositoryIDFile, encoding: .utf8) {
            return (text.trimmingCharacters(in: .whitespacesAndNewlines), "the state folder (\(repositoryIDFile))", nil)
        }
        return nil
    }

    /// Throws `foreignRepository` when `repo` is not the repository the state folder knows;
    /// records its id when the state folder knows none yet.
    func checkIdentity(_ repo: Repository) throws {
        let id = repo.config.id.hex
        if let text = try? String(contentsOfFile: repositoryIDFile, encoding: .utf8) {
            let known = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard known == id else {
                throw RepositoryError.foreignRepository(region: repo.region, holds: id, expected: known, expectedFrom: "the state folder (\(repositoryIDFile))")
            }
            return
        }
        try? FileManager.default.createDirectory(atPath: config.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        FileManager.default.createFile(atPath: repositoryIDFile, contents: Data((id + "\n").utf8), attributes: [.posixPermissions: 0o600])
    }

    /// Creates the deployment's repository in the primary region and gives every other
    /// region its identity (config, id key, keyring). Refused when any region or the state
    /// folder already knows a repository, unless `force` (after every region was lost).
    public func initialize(force: Bool = false) throws -> Repository {
        let primary = config.primaryRegion.name
        for region in config.regions {
            guard let stores = try? locations(of: region) else { continue }
            for loc in stores where (try? loc.size(of: "config")) != nil && (try? loc.size(of: "config")) != .some(nil) {
                throw DeploymentError.alreadyInitialized(region: region.name, location: loc.name)
            }
        }
        if FileManager.default.fileExists(atPath: repositoryIDFile) {
            guard force else {
                throw DeploymentError.repositoryLost(idFile: repositoryIDFile)
            }
            try FileManager.default.removeItem(atPath: repositoryIDFile)
        }
        let repo = try repository(primary, create: true)
        for region in config.regions where region.name != primary {
            try publishKeyring(to: region.name)
            _ = try repo.replicate(to: try locations(of: region), signedCopyIsAuthentic: try signedCopyCheck())
        }
        return repo
    }

    /// Whether a copy of an audit object (checkpoint, log segment, activity seal, the public
    /// key) or region head is authentic, for replication to spread only such copies.
    public func signedCopyCheck() throws -> @Sendable (String, [UInt8]) -> Bool {
        let check = try SignedObjects(keyring: keyring())
        return { name, bytes in check.isAuthentic(name, bytes) }
    }

    /// Runs `body` on the repository of every region that holds one (of `regions`, when
    /// given) and returns the regions where it succeeded. A region with no repository yet is skipped quietly; any other
    /// failure is logged as a warning about `what`.
    public func forEachRepository(logger: Logger, _ what: String, regions: [String]? = nil, _ body: (Repository) throws -> Void) -> [String] {
        var done: [String] = []
        for region in config.regionNames where regions?.contains(region) ?? true {
            if let since = Self.unreachableSince(config, region) {
                logger.warning("cannot \(what) in a region", metadata: ["region": "\(region)", "error": "unreachable since \(since) in this process"])
                continue
            }
            do { try body(try openOrMarkUnreachable(region)); done.append(region) } catch RepositoryError.notInitialized {
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
        config.regionNames.filter { $0 != region && Self.unreachableSince(config, $0) == nil }.compactMap { try? openOrMarkUnreachable($0) }
    }

    /// Opens a region's repository for work that may do without it (audit copies, shards
    /// from the other region): a region that cannot be reached is remembered for a few
    /// minutes, so one dead region costs one round of retries per process, not one per use.
    private func openOrMarkUnreachable(_ region: String) throws -> Repository {
        do { return try repository(region) } catch RepositoryError.notInitialized(let r) {
            throw RepositoryError.notInitialized(region: r)
        } catch {
            // Unreachable, unreadable or refused: not tried again for optional uses a while.
            Self.unreachableRegions.withLock { $0[config.file + "#" + region] = Date() }
            throw error
        }
    }

    private static let unreachableRegions = Locked<[String: Date]>([:])

    static func unreachableSince(_ config: LeafguardConfig, _ region: String) -> Date? {
        guard let at = unreachableRegions.value[config.file + "#" + region], Date().timeIntervalSince(at) < 300 else { return nil }
        return at
    }
}
