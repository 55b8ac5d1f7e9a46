import Foundation
import LeafAudit
import LeafConfig
import LeafRepository
import LeafSodium
import Logging

/// Where leafguard records what it does: appends to the audit log, and signed checkpoints
/// of it in the state folder and every region. A failure to record is logged loudly but
/// does not undo the work that was done.
public struct AuditTrail: Sendable {
    /// The deployment whose keyring seals the log and whose regions keep its copies: the
    /// caller's, so that a run derives its key once for its steps and its audit trail alike.
    public let deployment: Deployment
    /// Where problems storing the trail are logged (recording never stops a command).
    public let logger: Logger
    /// The deployment's configuration.
    public var config: LeafguardConfig { deployment.config }

    /// The audit trail of `deployment`.
    public init(deployment: Deployment, logger: Logger) { self.deployment = deployment; self.logger = logger }

    /// A trail over a deployment of its own (for a caller that opens no other).
    public init(config: LeafguardConfig, logger: Logger) { self.init(deployment: Deployment(config: config), logger: logger) }

    /// The hash-chained log in the state folder (`STATE/audit/audit.log`).
    public var log: AuditLog { AuditLog(stateDirectory: config.stateDirectory) }

    /// Appends `entry` to the log; a failure is logged, never thrown (a command checks `ensureAppendable` before its work).
    public func record(_ entry: AuditEntry) {
        do {
            try restoreFromRegionsIfMissing()
            try log.append(entry)
        } catch {
            logger.error("cannot write the audit log", metadata: ["file": "\(log.path)", "error": "\(error)"])
        }
    }

    /// Records, durably and before the snapshot is stored, that this process is writing
    /// snapshot `id` (hex) into `region`: the region heads take in a new snapshot only when
    /// the log names it so (see `RegionHeads.update`). Throws when the log cannot take it.
    public func recordSnapshotIntent(_ id: String, region: String, job: String?) throws {
        try restoreFromRegionsIfMissing()
        try log.append(
            AuditEntry(
                action: Self.snapshotIntent, command: "run", job: job, objects: ["snapshot \(id)", "region \(region)"], outcome: "writing",
                at: deployment.clock.now))
        // The region's copy of the log takes the entry before the region takes the snapshot:
        // a run killed after storing it, on a host then lost, leaves the region accounting for
        // its own snapshot (KilledBackupHostLostTests). Best effort, like every region copy
        // of the log: the state folder's log holds the entry either way.
        storeSegments(in: [region])
    }

    /// The action of a snapshot-intent entry.
    public static let snapshotIntent = "snapshot.write"

    /// Snapshot ids (hex) the log records as written by leafguard. On a new host the log is
    /// first rebuilt from the regions' copy (a read-only command such as `snapshots list`
    /// would otherwise find every snapshot since the last head unrecorded).
    public func recordedSnapshots() -> Set<String> { Set(writeOrder().keys) }

    /// Snapshot ids (hex) the log records as written by leafguard, each with the sequence
    /// number of its `snapshot.write` entry: the order leafguard wrote them in, whatever
    /// time their ids carry (a run with `--now` two days ahead writes ids two days ahead).
    public func writeOrder() -> [String: Int] {
        try? restoreFromRegionsIfMissing()
        var out: [String: Int] = [:]
        for e in (try? log.entries()) ?? [] where e.action == Self.snapshotIntent {
            for o in e.objects where o.hasPrefix("snapshot ") { out[String(o.dropFirst(9))] = max(out[String(o.dropFirst(9))] ?? 0, e.seq) }
        }
        return out
    }

    /// Throws unless an entry can be appended: the log (rebuilt from the regions on a new
    /// host) must end in a well-formed entry. A torn last line — a crash mid-append — is cut
    /// off and the repair recorded; any other damage stops the caller, naming the log.
    public func ensureAppendable() throws {
        try restoreFromRegionsIfMissing()
        switch try log.repairTornTail() {
        case .intact: return
        case .repaired(let bytes):
            try log.append(
                AuditEntry(
                    action: "audit.repair", command: "audit", objects: [log.path], outcome: "repaired",
                    detail: "removed a torn last line of \(bytes) bytes left by an interrupted write"))
            logger.warning("repaired the audit log's torn last line", metadata: ["file": "\(log.path)", "bytes": "\(bytes)"])
        }
    }

    /// The key that seals the log's segments in the regions: from the audit seed the keyring keeps.
    func segmentKey() throws -> SecureBytes {
        try AuditKeyChain.segmentKey(seed: try deployment.keyring().auditSeed)
    }

    /// The log's lines, sealed (XChaCha20-Poly1305, the object name as associated data):
    /// nonce (24) ‖ ciphertext ‖ tag.
    static func sealSegment(_ lines: [UInt8], name: String, key: SecureBytes) throws -> [UInt8] {
        let nonce = Sodium.randomBytes(24)
        return nonce + (try AEAD.seal(lines, associatedData: Array(name.utf8), nonce: nonce, key: key, algorithm: .xchacha20poly1305))
    }

    /// Opens a segment under whichever of `keys` sealed it (segments sealed before a key
    /// handover open under an earlier key of the chain).
    static func openSegment(_ bytes: [UInt8], name: String, keys: [SecureBytes]) throws -> [UInt8] {
        var last: (any Error)?
        for key in keys {
            do { return try openSegment(bytes, name: name, key: key) } catch { last = error }
        }
        throw last ?? AuditError("\(name): no audit key to open it")
    }

    static func openSegment(_ bytes: [UInt8], name: String, key: SecureBytes) throws -> [UInt8] {
        guard bytes.count >= 24 + 16 else { throw AuditError("\(name) is too short to be a log segment") }
        return try AEAD.open(Array(bytes[24...]), associatedData: Array(name.utf8), nonce: Array(bytes[..<24]), key: key, algorithm: .xchacha20poly1305)
    }

    /// `audit/log-FIRST-LAST` (12 digits each): entries FIRST…LAST of the log.
    static func segmentRange(_ name: String) -> (Int, Int)? {
        guard name.hasPrefix("audit/log-") else { return nil }
        let parts = name.dropFirst("audit/log-".count).split(separator: "-")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 1, b >= a else { return nil }
        return (a, b)
    }

    /// On a new host (no log in the state folder), rebuilds the log from the segments the
    /// regions hold, so the chain goes on from the newest one rather than starting again.
    public func restoreFromRegionsIfMissing() throws {
        if let size = (try? FileManager.default.attributesOfItem(atPath: log.path))?[.size] as? Int, size > 0 { return }
        var segments: [String: (Int, Int, Repository)] = [:]
        for region in config.regionNames where Deployment.unreachableSince(config, region) == nil {
            guard let repo = try? deployment.repository(region) else { continue }
            for name in repo.listReplicated(prefix: "audit/log-") where segments[name] == nil {
                if let r = Self.segmentRange(name) { segments[name] = (r.0, r.1, repo) }
            }
        }
        guard !segments.isEmpty else { return }
        let keys = try deployment.auditKeys().segmentKeys
        var lines: [UInt8] = []
        var next = 1
        for (name, (first, last, repo)) in segments.sorted(by: { $0.value.0 < $1.value.0 }) where last >= next {
            guard first <= next else { break }  // a gap: keep what is continuous
            // A segment no location holds authentically (planted in one) is skipped, not fatal.
            guard let plain = try? repo.readReplicated(name, { try Self.openSegment($0, name: name, keys: keys) }) else { continue }
            // Segments may overlap (two hosts, or a rerun): keep entries from `next` on.
            for line in plain.split(separator: UInt8(ascii: "\n")) {
                guard let seq = AuditLog.sequenceNumber(of: Array(line)), seq >= next else { continue }
                lines += line + [UInt8(ascii: "\n")]
                next = seq + 1
            }
        }
        guard !lines.isEmpty else { return }
        try AuditLog.writeRestored(lines, to: log.path)
        logger.notice("audit log rebuilt from the regions", metadata: ["entries": "\(next - 1)", "file": "\(log.path)"])
    }

    /// The audit signer, from the seed the keyring keeps: the same across master-key
    /// rotations and passphrase changes.
    public func signer() throws -> AuditSigner {
        let s = try AuditSigner(seed: try deployment.keyring().auditSeed)
        try s.publish(stateDirectory: config.stateDirectory)
        return s
    }

    /// Signs a checkpoint of the log now and stores it in the state folder and in each
    /// region that has a repository. Returns where it was stored.
    @discardableResult
    public func checkpoint(at: Date? = nil) -> [String] {
        let at = at ?? deployment.clock.now
        do {
            let signer = try signer()
            guard let (name, bytes) = try CheckpointStore(stateDirectory: config.stateDirectory).write(log: log, signer: signer, at: at) else { return [] }
            return storeCheckpoint(name, bytes, signer: signer, at: at)
        } catch {
            logger.error("cannot write an audit checkpoint", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Signs a handover checkpoint of the log now with `old` (the audit key until now) and
    /// `new` (the keyring's current one), and stores it like any checkpoint: an auditor who
    /// trusts either key follows the chain across the leak playbook.
    @discardableResult
    public func handoverCheckpoint(from old: AuditSigner, to new: AuditSigner, at: Date? = nil) -> [String] {
        let at = at ?? deployment.clock.now
        do {
            try new.publish(stateDirectory: config.stateDirectory)
            guard let (name, bytes) = try CheckpointStore(stateDirectory: config.stateDirectory).writeHandover(log: log, from: old, to: new, at: at)
            else { return [] }
            // The published key names the new key from now on (the old one is in the handover
            // checkpoint): each location's copy is replaced, here only, so that a copy altered
            // at any other time is still reported by verify.
            let published = Array("ed25519 \(new.publicKeyHex) leafguard-audit\n".utf8)
            _ = deployment.forEachRepository(logger: logger, "publish the new audit key") { repo in
                for loc in repo.locations where (try? loc.size(of: "audit/audit-signing.pub")) ?? nil != nil {
                    try? loc.replace("audit/audit-signing.pub", published)
                }
            }
            return storeCheckpoint(name, bytes, signer: new, at: at)
        } catch {
            logger.error("cannot write the audit key handover checkpoint", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// What follows a checkpoint kept in the state folder: the log's new entries and the
    /// checkpoint stored in each region, then each region's signed head (what it should hold
    /// from now on), signed by `signer`. Returns where the checkpoint was stored.
    private func storeCheckpoint(_ name: String, _ bytes: [UInt8], signer: AuditSigner, at: Date) -> [String] {
        storeSegments()
        let stored = ["state"] + storeInRegions(name, bytes, publicKey: signer.publicKeyHex)
        RegionHeads(deployment: deployment, signer: signer).update(logger: logger, now: at)
        return stored
    }

    /// Stores the entries no region segment holds yet as one new segment in every region (or
    /// in `regions`):
    /// the log itself survives the host (the checkpoints alone would only prove it existed).
    func storeSegments(in regions: [String]? = nil) {
        do {
            let entries = try log.lines()
            guard let lastSeq = entries.last?.seq else { return }
            let key = try segmentKey()
            let keys = try deployment.auditKeys().segmentKeys
            _ = deployment.forEachRepository(logger: logger, "store the audit log", regions: regions) { repo in
                // Where the stored log ends: the highest segment that authenticates, not the
                // highest name (one planted name would stop the region receiving the log). At
                // most 16 are tried; past them the whole log is stored again, which loses nothing.
                let candidates = repo.listReplicated(prefix: "audit/log-").compactMap { n in Self.segmentRange(n).map { (n, $0.1) } }
                var stored = 0
                for (name, end) in candidates.sorted(by: { $0.1 > $1.1 }).prefix(16)
                where (try? repo.readReplicated(name, { try Self.openSegment($0, name: name, keys: keys) })) != nil {
                    stored = end
                    break
                }
                guard stored < lastSeq else { return }
                let missing = entries.filter { $0.seq > stored }
                guard let first = missing.first?.seq else { return }
                let name = "audit/log-\(String(format: "%012d", first))-\(String(format: "%012d", lastSeq))"
                try repo.putReplicated(name, try Self.sealSegment(missing.flatMap(\.bytes), name: name, key: key))
            }
        } catch {
            logger.error("cannot store the audit log in the regions", metadata: ["error": "\(error)"])
        }
    }

    /// Copies a signed object (and the public key) to every region that holds a repository.
    public func storeInRegions(_ name: String, _ bytes: [UInt8], publicKey: String) -> [String] {
        let signed = try? SignedObjects(keyring: deployment.keyring())
        return deployment.forEachRepository(logger: logger, "store \(name)") { repo in
            try repo.putReplicated("audit/audit-signing.pub", Array("ed25519 \(publicKey) leafguard-audit\n".utf8))
            try repo.putReplicated(name, bytes)
            // Copies a killed checkpoint or a newly added location lacks.
            signed?.completeCopies(in: repo)
        }
    }

    /// Every copy of every checkpoint: the state folder's and each region's.
    public func checkpointCopies() -> [(source: String, name: String, bytes: [UInt8])] {
        var out = CheckpointStore(stateDirectory: config.stateDirectory).all().map { (source: "state", name: $0.0, bytes: $0.1) }
        for region in config.regionNames where Deployment.unreachableSince(config, region) == nil {
            guard let repo = try? deployment.repository(region) else { continue }
            for name in repo.listReplicated(prefix: "audit/checkpoint-") {
                if let bytes = try? repo.readReplicated(name, { $0 }) { out.append((region, name, bytes)) }
            }
        }
        return out
    }
}
