import Foundation
import LeafAudit
import LeafConfig
import Logging

/// Where leafguard records what it does: appends to the audit log, and signed checkpoints
/// of it in the state folder and every region. A failure to record is logged loudly but
/// does not undo the work that was done.
public struct AuditTrail: Sendable {
    public let config: LeafguardConfig
    public let logger: Logger

    public init(config: LeafguardConfig, logger: Logger) { self.config = config; self.logger = logger }

    public var log: AuditLog { AuditLog(stateDirectory: config.stateDirectory) }

    public func record(_ entry: AuditEntry) {
        do { try log.append(entry) } catch {
            logger.error("cannot write the audit log", metadata: ["file": "\(log.path)", "error": "\(error)"])
        }
    }

    /// The audit signer, from the seed the keyring keeps: the same across master-key
    /// rotations and passphrase changes.
    public func signer() throws -> AuditSigner {
        let s = try AuditSigner(seed: try Deployment(config: config).keyring().auditSeed)
        try s.publish(stateDirectory: config.stateDirectory)
        return s
    }

    /// Signs a checkpoint of the log now and stores it in the state folder and in each
    /// region that has a repository. Returns where it was stored.
    @discardableResult
    public func checkpoint(at: Date = Date()) -> [String] {
        do {
            let signer = try signer()
            guard let (name, bytes) = try CheckpointStore(stateDirectory: config.stateDirectory).write(log: log, signer: signer, at: at) else { return [] }
            return ["state"] + storeInRegions(name, bytes, publicKey: signer.publicKeyHex)
        } catch {
            logger.error("cannot write an audit checkpoint", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Copies a signed object (and the public key) to every region that holds a repository.
    public func storeInRegions(_ name: String, _ bytes: [UInt8], publicKey: String) -> [String] {
        Deployment(config: config).forEachRepository(logger: logger, "store \(name)") { repo in
            try repo.putReplicated("audit/audit-signing.pub", Array("ed25519 \(publicKey) leafguard-audit\n".utf8))
            try repo.putReplicated(name, bytes)
        }
    }

    /// Every copy of every checkpoint: the state folder's and each region's.
    public func checkpointCopies() -> [(source: String, name: String, bytes: [UInt8])] {
        var out = CheckpointStore(stateDirectory: config.stateDirectory).all().map { (source: "state", name: $0.0, bytes: $0.1) }
        let deployment = Deployment(config: config)
        for region in config.regionNames {
            guard let repo = try? deployment.repository(region) else { continue }
            for name in repo.listReplicated(prefix: "audit/checkpoint-") {
                if let bytes = try? repo.readReplicated(name, { $0 }) { out.append((region, name, bytes)) }
            }
        }
        return out
    }
}
