import Foundation
import LeafAudit
import LeafConfig
import LeafRepository
import Logging

/// Keeps each region's signed head (`RegionHead`: the snapshots and indexes it should hold)
/// and checks a region against it. A head is written at the end of every audited command,
/// with the checkpoint: the previous head, minus what leafguard removed on purpose (the
/// region's tombstones: prune, reencrypt, an accepted loss), plus what the region lists now. Something that vanished any other
/// way stays in the head and is reported by verify, `snapshots list` and `restore latest`
/// until it is back (verify --repair copies it from another region) or the loss is accepted.
public struct RegionHeads: Sendable {
    /// The deployment whose regions' heads are kept.
    public let deployment: Deployment
    /// The audit key's signer, which signs every head.
    public let signer: AuditSigner
    /// Heads kept per region in each location (older ones are removed).
    static let kept = 3

    /// Heads of `deployment`'s regions, signed by `signer`.
    public init(deployment: Deployment, signer: AuditSigner) {
        self.deployment = deployment; self.signer = signer
        // Heads signed before a key handover (the leak playbook) stay valid.
        trusted = (try? deployment.auditKeys().publicKeys).map { [signer.pair.publicKey] + $0 } ?? [signer.pair.publicKey]
    }

    /// Every key whose signature on a head is accepted: the signer's and the chain's earlier ones.
    let trusted: [[UInt8]]

    var config: LeafguardConfig { deployment.config }

    /// A snapshot's short id as `snapshots list` shows it (bytes 6 to 9: the random part).
    public static func short(_ hex: String) -> String { ObjectID(hex: hex)?.short ?? String(hex.prefix(8)) }
    func statePath(_ region: String) -> String { config.state.head(region) }

    /// The newest authentic head of `region` for `repository` (hex id) among the state
    /// folder's copy and every reachable region's copies.
    public func newest(of region: String, repository: String, logger: Logger) -> RegionHead? {
        let key = trusted
        var candidates: [RegionHead] = []
        if let data = FileManager.default.contents(atPath: statePath(region)), let h = RegionHead.open([UInt8](data), publicKeys: key) {
            candidates.append(h)
        }
        _ = deployment.forEachRepository(logger: logger, "read the heads of '\(region)'") { repo in
            for name in Self.newestNames(of: region, in: repo) {
                if let h = try? repo.readReplicated(
                    name,
                    { bytes -> RegionHead in
                        // A copy is this head only if its signed content names it: an old head
                        // planted under a newer name is no head at all.
                        guard let h = RegionHead.open(bytes, publicKeys: key), h.name == name else {
                            throw RepositoryError.malformed("\(name) is not a signed head of that name")
                        }
                        return h
                    })
                {
                    candidates.append(h)
                }
            }
        }
        return candidates.filter { $0.repository == repository && $0.region == region }.max { $0.sequence < $1.sequence }
    }

    /// The head names worth reading for `region` in `repo`: the newest `kept` of each
    /// location's own listing. Whoever owns one location can plant names sorting after every
    /// real head there, but shadows only that location's: the others still name the real ones.
    static func newestNames(of region: String, in repo: Repository) -> [String] {
        var names = Set<String>()
        for loc in repo.locations {
            guard let listed = try? loc.list(prefix: RegionHead.prefix(region)) else { continue }
            names.formUnion(listed.filter { RegionHead.sequence(inName: $0, region: region) != nil }.suffix(kept))
        }
        return names.sorted()
    }

    /// Writes a new head for every reachable region whose contents changed, into the state
    /// folder and every location of every reachable region. Returns the regions written.
    @discardableResult
    public func update(logger: Logger, now: Date? = nil) -> [String] {
        let now = now ?? deployment.clock.now
        var written: [String] = []
        var heads: [(RegionHead, [UInt8], spent: [String])] = []
        let recorded = AuditTrail(deployment: deployment, logger: logger).recordedSnapshots()
        _ = deployment.forEachRepository(logger: logger, "record what the region holds") { repo in
            let region = repo.region
            let previous = newest(of: region, repository: repo.config.id.hex, logger: logger)
            let tombstones = repo.tombstones()
            let removed = Set(tombstones.flatMap(\.removes))
            func ids(_ prefix: String) -> (listed: Set<String>, removed: Set<String>) {
                (
                    Set(repo.listReplicated(prefix: prefix).map { String($0.dropFirst(prefix.count)) }),
                    Set(removed.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
                )
            }
            let s = ids("snapshots/")
            let i = ids("index/")
            // A snapshot the head does not list yet is taken in only when leafguard recorded
            // writing it (the audit log) or another region's head lists it (replicated): one
            // sealed by whoever holds a data key but not the master key stays out, reported.
            // With no head yet (a first command), what the region lists is the start.
            let unaccounted = previous == nil ? [] : unaccountedSnapshots(s.listed, of: repo, head: previous, recorded: recorded, logger: logger)
            let snapshots = Set(previous?.snapshots ?? []).subtracting(s.removed).union(s.listed.subtracting(unaccounted))
            var indexes = Set(previous?.indexes ?? []).subtracting(i.removed).union(i.listed)
            // Indexes the head recorded that no location holds, while every snapshot it lists
            // is there and fully indexed without them: superseded (rewritten here by a prune or
            // re-encryption, then the region rebuilt from another before that was replicated),
            // so the new head drops them; nothing is lost. Anything less stays recorded, for
            // verify to report.
            let superseded = indexes.subtracting(i.listed)
            if !superseded.isEmpty, Set(snapshots).isSubset(of: s.listed), repo.everySnapshotIndexed() {
                indexes.subtract(superseded)
                logger.notice(
                    "superseded indexes dropped from the region's head; every snapshot is indexed without them",
                    metadata: ["region": "\(region)", "indexes": "\(superseded.sorted().map(RegionHeads.short).joined(separator: ", "))"])
            }
            // A tombstone whose removals are all done is spent once a head without them is stored.
            let listed = s.listed.map { "snapshots/" + $0 } + i.listed.map { "index/" + $0 }
            // ... and only when every location was listed and lacks them: one that refused the
            // removal (or could not be listed) would otherwise bring them back when mended.
            let spent = tombstones.filter { Set($0.removes).isDisjoint(with: listed) && repo.everyLocationLacks($0.removes) }.map(\.name)
            if let previous, Set(previous.snapshots) == snapshots, Set(previous.indexes) == indexes {
                spent.forEach(repo.removeTombstone)
                return
            }
            let head = RegionHead(
                repository: repo.config.id.hex, region: region, sequence: (previous?.sequence ?? 0) + 1, at: now,
                snapshots: Array(snapshots), indexes: Array(indexes))
            heads.append((head, try head.signed(by: signer), spent))
        }
        for (head, bytes, spent) in heads {
            do {
                try FileManager.default.createDirectory(
                    atPath: config.state.heads, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
                try Data(bytes).write(to: URL(fileURLWithPath: statePath(head.region)), options: .atomic)
            } catch {
                logger.warning("cannot keep the region head in the state folder", metadata: ["region": "\(head.region)", "error": "\(error)"])
            }
            let stored = deployment.forEachRepository(logger: logger, "store the head of '\(head.region)'") { repo in
                guard repo.config.id.hex == head.repository else { return }
                try repo.putReplicated(head.name, bytes)
                // Heads older than the last `kept` go, by the sequence their names carry; a name
                // above the head just written is not leafguard's (planted) and never makes a
                // real head go.
                for loc in repo.locations {
                    let names = (try? loc.list(prefix: RegionHead.prefix(head.region))) ?? []
                    for old in names {
                        guard let seq = RegionHead.sequence(inName: old, region: head.region), seq + UInt64(Self.kept) <= head.sequence else { continue }
                        try? loc.delete(old)
                    }
                }
            }
            if stored.contains(head.region), let repo = try? deployment.repository(head.region) { spent.forEach(repo.removeTombstone) }
            if !stored.isEmpty { written.append(head.region) }
        }
        return written
    }

    /// Of `listed` (snapshot ids of `repo`'s region), those no signed record accounts for:
    /// not in `head`, not written by leafguard by the audit log (`recorded`), and in no other
    /// region's newest head.
    func unaccountedSnapshots(_ listed: Set<String>, of repo: Repository, head: RegionHead?, recorded: Set<String>, logger: Logger) -> Set<String> {
        var unaccounted = listed.subtracting(head?.snapshots ?? []).subtracting(recorded)
        guard !unaccounted.isEmpty else { return [] }
        for other in config.regionNames where other != repo.region {
            if let h = newest(of: other, repository: repo.config.id.hex, logger: logger) { unaccounted.subtract(h.snapshots) }
        }
        return unaccounted
    }

    /// Snapshot ids (hex) `repo`'s region lists that no signed record accounts for: not in
    /// its newest head, not recorded as written in the audit log, not in another region's
    /// head. Sealed by someone holding a data key but not the master key (a compromised
    /// client): verify reports them, `snapshots list` warns, `restore latest` passes them by.
    /// Empty while the region has no head.
    public func unrecorded(in repo: Repository, logger: Logger) -> [String] {
        guard let head = newest(of: repo.region, repository: repo.config.id.hex, logger: logger) else { return [] }
        let listed = Set(repo.listReplicated(prefix: "snapshots/").map { String($0.dropFirst(10)) })
        let recorded = AuditTrail(deployment: deployment, logger: logger).recordedSnapshots()
        return unaccountedSnapshots(listed, of: repo, head: head, recorded: recorded, logger: logger).sorted()
    }

    /// What `repo`'s region should hold by its newest head and does not hold in any location.
    public struct Missing: Sendable {
        /// The newest authentic head, which says what the region should hold.
        public let head: RegionHead
        /// Snapshot ids (hex) the head lists and no location of the region holds.
        public let snapshots: [String]
        /// Index ids (hex) the head lists and no location of the region holds.
        public var indexes: [String]
        /// Whether nothing is missing.
        public var isEmpty: Bool { snapshots.isEmpty && indexes.isEmpty }
        /// One line for an operator: what is missing, from which head, and what it means.
        public var summary: String {
            var parts: [String] = []
            if !snapshots.isEmpty { parts.append("\(snapshots.count) snapshot(s) (\(snapshots.map(RegionHeads.short).joined(separator: ", ")))") }
            if !indexes.isEmpty { parts.append("\(indexes.count) index(es)") }
            return
                "\(parts.joined(separator: " and ")) recorded in the signed head \(head.sequence) of \(head.at) are in no location of '\(head.region)' (deleted or rolled back outside leafguard)"
        }
    }

    /// What `repo`'s region should hold by its newest head and holds in no location; nil when nothing (or no head is known).
    public func missing(in repo: Repository, logger: Logger) -> Missing? {
        guard let head = newest(of: repo.region, repository: repo.config.id.hex, logger: logger) else { return nil }
        let snapshots = Set(repo.listReplicated(prefix: "snapshots/").map { String($0.dropFirst(10)) })
        let indexes = Set(repo.listReplicated(prefix: "index/").map { String($0.dropFirst(6)) })
        var m = Missing(head: head, snapshots: head.snapshots.filter { !snapshots.contains($0) }, indexes: head.indexes.filter { !indexes.contains($0) })
        // An index superseded in this region before it was rebuilt from another: every
        // snapshot it holds is indexed without it, so nothing is missing (the next head drops it).
        if m.snapshots.isEmpty && !m.indexes.isEmpty && repo.everySnapshotIndexed() { m.indexes = [] }
        return m.isEmpty ? nil : m
    }
}

extension Deployment {
    /// Snapshot ids (hex) of `repo`'s region that no signed record accounts for (see
    /// `RegionHeads.unrecorded`); empty when the keyring cannot give the audit key.
    public func unrecordedSnapshots(in repo: Repository, logger: Logger) -> [String] {
        guard let seed = try? keyring().auditSeed, let signer = try? AuditSigner(seed: seed) else { return [] }
        return RegionHeads(deployment: self, signer: signer).unrecorded(in: repo, logger: logger)
    }

    /// The newest snapshot of `repo` leafguard wrote: the latest by the audit log's order of
    /// `snapshot.write` entries, not by the time its id carries (a run with `--now` ahead of
    /// the clock wrote ids ahead), among those a signed record accounts for. Snapshots from
    /// before the log recorded writes come first, by id. Nil when there is none. A caller that
    /// has the unrecorded snapshots already passes them (reading them means reading the heads
    /// and the audit log again).
    public func latestWritten(in repo: Repository, logger: Logger, unrecorded known: Set<String>? = nil) -> ObjectID? {
        let unrecorded = known ?? Set(unrecordedSnapshots(in: repo, logger: logger))
        let order = AuditTrail(deployment: self, logger: logger).writeOrder()
        return repo.snapshotIDs().filter { !unrecorded.contains($0.hex) }.max { a, b in
            let (x, y) = (order[a.hex] ?? 0, order[b.hex] ?? 0)
            return x != y ? x < y : a.hex < b.hex
        }
    }
}
