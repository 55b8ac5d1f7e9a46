import Foundation
import LeafAudit
import LeafKeys
import LeafRepository
import LeafSodium
import LeafStorage
import LeafTime
import Logging

/// Rotation, census and retirement of master-key versions across every region.
public struct KeyManagement: Sendable {
    /// The deployment whose keyring and regions are changed.
    public let deployment: Deployment
    /// Where progress and problems are logged.
    public let logger: Logger

    /// Key management of `deployment`.
    public init(deployment: Deployment, logger: Logger) { self.deployment = deployment; self.logger = logger }

    var rotationFile: String { deployment.config.state.rotation }

    /// The rotation checkpoint: which version every data key is being re-wrapped under.
    struct RotationCheckpoint: Codable { var target: UInt32; var started: Date; var regionsDone: [String] }

    /// What a rotation did.
    public struct RotationReport: Sendable {
        /// The master-key version now active.
        public var version: UInt32
        /// Whether an interrupted rotation was finished rather than a new one started.
        public var resumed: Bool
        /// Per region, the data keys and key sets re-wrapped under the new version.
        public var regions: [(region: String, result: RewrapResult)]
    }

    /// Activates a new version and re-wraps every data key in every region under it, or,
    /// when a rotation was interrupted, finishes that one (no second new version).
    public func rotate(progress: (@Sendable (String, Int, Int) -> Void)? = nil) throws -> RotationReport {
        let saved = try loadCheckpoint()
        let resumed = saved != nil
        var checkpoint: RotationCheckpoint
        if let saved {
            checkpoint = saved
        } else {
            var ring = try deployment.keyring()
            let version = try ring.rotate(now: deployment.clock.now)
            deployment.reloadKeyring()
            checkpoint = RotationCheckpoint(target: version, started: deployment.clock.now, regionsDone: [])
            try saveCheckpoint(checkpoint)
            logger.notice("master-key version activated", metadata: ["version": "\(version)"])
        }
        var report = RotationReport(version: checkpoint.target, resumed: resumed, regions: [])
        for region in deployment.config.regionNames where !checkpoint.regionsDone.contains(region) {
            let repo: Repository
            do { repo = try deployment.repository(region) } catch RepositoryError.notInitialized {
                checkpoint.regionsDone.append(region); try saveCheckpoint(checkpoint); continue
            }
            // The region holds the new version's keyring, durably, before anything is wrapped under it.
            try deployment.publishKeyring(to: region)
            let result = try repo.rewrapDataKeys { done, total in progress?(region, done, total) }
            report.regions.append((region, result))
            checkpoint.regionsDone.append(region)
            try saveCheckpoint(checkpoint)
        }
        try? FileManager.default.removeItem(atPath: rotationFile)
        return report
    }

    /// The census of every region that holds a repository.
    public func census() -> (regions: [KeyCensus], unreachable: [String]) {
        var out: [KeyCensus] = []
        var unreachable: [String] = []
        for region in deployment.config.regionNames {
            do { out.append(try deployment.repository(region).keyCensus()) } catch RepositoryError.notInitialized {
                continue
            } catch { unreachable.append("\(region): \(error)") }
        }
        return (out, unreachable)
    }

    /// Retires a decrypt-only version, refusing while any data key anywhere still needs it.
    public func retire(_ version: UInt32, grace: TimeInterval) throws {
        if FileManager.default.fileExists(atPath: rotationFile) {
            throw KeyError("a rotation is unfinished; run 'leafguard keys rotate' to finish it first")
        }
        // The keyring's own check first: retiring the active version is refused before any census.
        var ring = try deployment.keyring()
        try ring.checkRetirable(version)
        let (regions, unreachable) = census()
        guard unreachable.isEmpty else {
            throw KeyError("cannot count the data keys of every region (\(unreachable.joined(separator: "; "))); not retiring version \(version)")
        }
        let users = regions.filter { ($0.byVersion[version] ?? 0) > 0 }
        guard users.isEmpty else {
            let text = users.map { "\($0.byVersion[version] ?? 0) data key(s) in '\($0.region)'" }.joined(separator: ", ")
            throw KeyError("version \(version) still wraps \(text); run 'leafguard keys rotate' to re-wrap them first")
        }
        try ring.retire(version, grace: grace, now: deployment.clock.now)
        deployment.reloadKeyring()
        try publishEverywhere()
    }

    /// Stores the keyring now in the state folder in every region that holds a repository.
    func publishEverywhere() throws {
        var problems: [String] = []
        for region in deployment.config.regionNames {
            do {
                _ = try deployment.repository(region)
                try deployment.publishKeyring(to: region)
            } catch RepositoryError.notInitialized {
                continue
            } catch { problems.append("\(error)") }
        }
        if !problems.isEmpty {
            throw KeyError(
                "the keyring changed in the state folder but not in every region (\(problems.joined(separator: "; "))); run the command again once every region is reachable"
            )
        }
    }

    /// Re-seals the keyring under the passphrase now in `newVariable` (fresh salt), leaving
    /// every data key, repository object and audit signature as it is. The configured
    /// variable must still hold the current passphrase; afterwards it must hold the new one.
    public func changePassphrase(newVariable: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard case .passphraseEnvironment(let current) = deployment.config.masterKey else {
            throw KeyError("keys.master is \(deployment.config.masterKey.description), not a passphrase; only 'passphrase-env:VAR' has a passphrase to change")
        }
        guard let new = environment[newVariable], !new.isEmpty else {
            throw KeyError("environment variable \(newVariable) is not set; it must hold the new passphrase")
        }
        guard new.count >= 12 else { throw KeyError("the new passphrase in \(newVariable) is shorter than 12 characters") }
        guard new != environment[current] else { throw KeyError("the new passphrase in \(newVariable) is the current one") }
        // A new passphrase is a new keyring key like any other (a fresh salt is drawn).
        // Only the keyring is re-sealed: the audit key stays (change-key, the leak playbook's
        // step, hands it over too).
        try changeKey(to: "passphrase-env:" + newVariable, environment: environment, renewAuditKey: false)
    }

    /// Re-seals the keyring under a new keyring key, given as `keys.master` would name it
    /// (`file:PATH`, `env:VAR`, `passphrase-env:VAR`), in the state folder and in every
    /// location of every region (each holds the old copy or the new at every moment).
    /// Afterwards the old key opens no keyring anywhere; leafguard.yml must name the new
    /// source before the next command. Returns the source's description.
    @discardableResult
    /// With `renewAuditKey` (what `keys change-key` does) the audit key is handed over to a
    /// new one as well, in a checkpoint signed by both.
    public func changeKey(
        to sourceText: String, environment: [String: String] = ProcessInfo.processInfo.environment, renewAuditKey: Bool = true
    ) throws -> String {
        let newKey: SecureBytes
        var parameters: PassphraseParameters?
        var wrapping: KMSWrapping?
        if sourceText.hasPrefix("file:") {
            newKey = try MasterKeySource.file(path: String(sourceText.dropFirst(5))).load().secret
        } else if sourceText.hasPrefix("env:") {
            newKey = try MasterKeySource.environment(variable: String(sourceText.dropFirst(4))).load(environment: environment).secret
        } else if sourceText.hasPrefix("passphrase-env:") {
            let variable = String(sourceText.dropFirst(15))
            guard let text = environment[variable], text.count >= 12 else {
                throw KeyError("environment variable \(variable) must hold the new passphrase, at least 12 characters", configuration: true)
            }
            let fresh = PassphraseParameters.fresh()
            parameters = fresh
            newKey = try MasterKeySource.derive(passphraseIn: variable, parameters: fresh, environment: environment)
        } else if sourceText.hasPrefix("aws-kms:"), sourceText.count > 8 {
            // A fresh data key of that KMS key (keys.kms says where KMS is): the keyring keeps
            // its ciphertext, and set keys.master to it afterwards.
            let (key, made) = try deployment.newKMSKeyringKey(keyID: String(sourceText.dropFirst(8)))
            newKey = key.secret
            wrapping = made
        } else {
            throw KeyError("--new-key takes file:PATH, env:VAR, passphrase-env:VAR or aws-kms:KEY, not '\(sourceText)'", configuration: true)
        }
        let current = try deployment.keyringKey()
        guard !newKey.isEqual(to: current.secret) else { throw KeyError("the new key is the current keyring key", configuration: true) }
        var ring = try deployment.keyring()
        // A leak rotates everything the leaked material opens: the audit key too. The copied
        // key file and keyring derive the old audit seed; from here on nothing is signed or
        // sealed under it (the old seed stays in the keyring, to verify and open what it did).
        let oldAuditKey = try AuditSigner(seed: ring.auditSeed)
        if renewAuditKey { try ring.renewAuditSeed() }
        try ring.changeKeyringKey(to: newKey, passphrase: parameters, kms: wrapping)
        try publishNewKeyring(ring, key: MasterKey(version: 1, secret: newKey))
        if renewAuditKey {
            // This process goes on under the new keyring (leafguard.yml names the old source
            // until the operator edits it): the handover is recorded and signed by both keys now.
            deployment.adoptKeyring(ring, key: MasterKey(version: 1, secret: newKey))
            let trail = AuditTrail(deployment: deployment, logger: logger)
            let newAuditKey = try AuditSigner(seed: ring.auditSeed)
            trail.record(
                AuditEntry(
                    action: "audit.key-handover", command: "keys change-key",
                    objects: ["from ed25519 \(oldAuditKey.publicKeyHex)", "to ed25519 \(newAuditKey.publicKeyHex)"], outcome: "succeeded"))
            trail.handoverCheckpoint(from: oldAuditKey, to: newAuditKey)
        } else {
            deployment.reloadKeyring(key: true)
        }
        try? FileManager.default.removeItem(atPath: deployment.config.state.passphraseParameters)
        logger.notice("keyring re-sealed under a new key", metadata: ["keyring": "\(ring.path)", "new_source": "\(sourceText)"])
        return sourceText
    }

    /// Replaces every region's keyring copy with `ring` (just re-sealed under `key`), location
    /// by location: each holds the old copy or the new one at every moment.
    func publishNewKeyring(_ ring: Keyring, key: MasterKey) throws {
        let bytes = ring.savedBytes
        var problems: [String] = []
        for region in deployment.config.regions {
            do {
                for loc in try deployment.locations(of: region) {
                    if (try? loc.size(of: "config")) == .some(nil) { continue }  // no repository in this location
                    try loc.replace(Deployment.keyringObject, bytes)
                    try loc.sync()
                    guard try loc.holds(Deployment.keyringObject, exactly: bytes) else { throw KeyError("\(loc.name): the copy read back differs") }
                }
            } catch { problems.append("\(region.name): \(error)") }
        }
        if !problems.isEmpty {
            throw KeyError(
                "the keyring was re-sealed in the state folder but not in every region (\(problems.joined(separator: "; "))); set the configured variable to the new passphrase and run 'leafguard verify --repair' once every region is reachable"
            )
        }
    }

    func loadCheckpoint() throws -> RotationCheckpoint? {
        guard let data = FileManager.default.contents(atPath: rotationFile) else { return nil }
        let d = JSONDecoder(); d.dateDecodingStrategy = .timestamp
        return try d.decode(RotationCheckpoint.self, from: data)
    }

    func saveCheckpoint(_ c: RotationCheckpoint) throws {
        let e = JSONEncoder(); e.dateEncodingStrategy = .iso8601
        try e.encode(c).write(to: URL(fileURLWithPath: rotationFile), options: .atomic)
    }
}
