import Foundation
import LeafAudit
import LeafConfig
import LeafRepository
import LeafSodium
import LeafStorage
import Logging

/// Runs verify on regions for the `verify` step and `leafguard verify`, choosing which
/// packs to read so that successive runs cover the whole repository: the given percentage
/// of packs, least recently read first (remembered in STATE/verify-REGION.json).
public struct Verification: Sendable {
    /// The deployment whose regions are verified.
    public let deployment: Deployment

    /// Verification of `deployment`'s regions.
    public init(deployment: Deployment) { self.deployment = deployment }

    /// What verify found in one region.
    public struct RegionReport: Sendable {
        /// The region's name.
        public let region: String
        /// The repository's own report: counts, and every problem with its location and object.
        public let report: VerifyReport
    }

    /// - Parameters:
    ///   - regions: the regions to check (default: every configured region holding a repository).
    ///   - readPercent: 0 checks structure only; 100 reads everything.
    ///   - acceptLoss: with `repair`, snapshots and indexes the signed head records but no
    ///     region holds any more are dropped from the head (the loss is then in the audit log).
    ///   - progress: told (region, packs checked, packs in all) as each region's packs are checked.
    public func run(
        regions: [String]?, readPercent: Int, repair: Bool, acceptLoss: Bool = false, now: Date? = nil,
        progress: (_ region: String, _ packsDone: Int64, _ packsTotal: Int64) -> Void = { _, _, _ in }
    ) throws -> [RegionReport] {
        // When packs were read, for the coverage ledger: the deployment's clock by default.
        let now = now ?? deployment.clock.now
        let config = deployment.config
        let names = regions ?? config.regionNames
        var out: [RegionReport] = []
        for name in names {
            let repo: Repository
            do { repo = try deployment.repository(name) } catch RepositoryError.notInitialized where regions == nil {
                continue  // a region nothing was stored in yet is not a problem unless asked for
            }
            // Only a repair takes shards from another region.
            let others = repair ? deployment.otherRepositories(than: name) : []
            let ledger = config.state.verifyLedger(name)
            var lastRead = RunHistory(config.state).verifyLedger(name)
            var chosen: [ObjectID] = []
            var report = try repo.verify(
                readPacks: { packs in
                    let count = readPercent >= 100 ? packs.count : Int((Double(packs.count) * Double(readPercent) / 100).rounded(.up))
                    let pick = packs.sorted { (lastRead[$0.id.hex] ?? 0, $0.id) < (lastRead[$1.id.hex] ?? 0, $1.id) }.prefix(count)
                    chosen = pick.map(\.id)
                    return Array(pick)
                }, repair: repair, otherRegions: others, progress: { progress(name, $0, $1) })
            // The keyring: a current, authentic copy in every location. While a rotation is
            // under way (its checkpoint in the state folder) the state folder's keyring is
            // ahead of the regions until the rotation publishes it to each, before it wraps
            // anything under the new version; an interrupted one is finished by the next
            // `keys rotate` (keys status says so), so older copies then are not a fault.
            var keyringProblems: [VerifyProblem] = []
            let rotating = FileManager.default.fileExists(atPath: KeyManagement(deployment: deployment, logger: Logger(label: "leafguard")).rotationFile)
            for loc in rotating ? [] : (try? deployment.staleKeyringCopies(in: name)) ?? [] {
                keyringProblems.append(
                    VerifyProblem(
                        location: loc, object: Deployment.keyringObject, kind: .missingCopy, snapshots: [], repaired: false,
                        detail: "the keyring copy is missing, out of date or does not authenticate"))
            }
            if repair && !keyringProblems.isEmpty, (try? deployment.publishKeyring(to: name)) != nil {
                for i in keyringProblems.indices { keyringProblems[i].repaired = true }
            }
            report.problems += keyringProblems
            report.problems += vanished(from: repo, repair: repair, acceptLoss: acceptLoss, others: others)
            report.problems += unrecorded(in: repo)
            report.problems += signedCopies(in: repo, repair: repair)
            for id in chosen { lastRead[id.hex] = now.timeIntervalSince1970 }
            try FileManager.default.createDirectory(atPath: config.stateDirectory, withIntermediateDirectories: true)
            try JSONEncoder().encode(lastRead).write(to: URL(fileURLWithPath: ledger), options: .atomic)
            out.append(RegionReport(region: name, report: report))
            let open = report.unrepaired.filter { !$0.isNote }.count
            MetricsFacts.update(config.state) { $0.verifyProblems[name] = open }
        }
        return out
    }

    /// Snapshots of the region that no signed record accounts for (`unrecorded-snapshot`):
    /// left in place (they are evidence), never taken into a head, passed by by `restore latest`.
    func unrecorded(in repo: Repository) -> [VerifyProblem] {
        deployment.unrecordedSnapshots(in: repo, logger: Logger(label: "leafguard.verify")).map { id in
            VerifyProblem(
                location: repo.region, object: "snapshots/" + id, kind: .unrecordedSnapshot, snapshots: [RegionHeads.short(id)], repaired: false,
                detail:
                    "no signed record accounts for it (not in the region's signed head, not written by leafguard by the audit log, in no other region's head): "
                    + "sealed by someone holding a data key but not the master key; left in place as evidence, never restored as 'latest'")
        }
    }

    /// Snapshots and indexes the region's signed head records that no location holds
    /// (deleted or rolled back outside leafguard): `missing-snapshot` / `missing-index`.
    /// A repair copies each back from another region that holds an authentic copy.
    func vanished(from repo: Repository, repair: Bool, acceptLoss: Bool, others: [Repository]) -> [VerifyProblem] {
        let logger = Logger(label: "leafguard.verify")
        guard let seed = try? deployment.keyring().auditSeed, let signer = try? AuditSigner(seed: seed),
            let missing = RegionHeads(deployment: deployment, signer: signer).missing(in: repo, logger: logger)
        else { return [] }
        var out: [VerifyProblem] = []
        for (prefix, ids, kind) in [("snapshots/", missing.snapshots, VerifyProblem.Kind.missingSnapshot), ("index/", missing.indexes, .missingIndex)] {
            for id in ids {
                let name = prefix + id
                var p = VerifyProblem(
                    location: repo.region, object: name, kind: kind, snapshots: prefix == "snapshots/" ? [RegionHeads.short(id)] : [],
                    repaired: false,
                    detail:
                        "recorded in the signed head \(missing.head.sequence) of \(missing.head.at) but in no location (deleted or rolled back outside leafguard)"
                )
                if repair, let bytes = others.lazy.compactMap({ try? $0.readAuthenticCopy(name) }).first, (try? repo.putReplicated(name, bytes)) != nil {
                    p.repaired = true
                    p.detail += "; copied back from another region"
                } else if repair && acceptLoss, (try? repo.removeOnPurpose([name])) != nil {
                    p.repaired = true
                    p.detail += "; no region holds it: the loss is accepted and the head forgets it"
                }
                out.append(p)
            }
        }
        return out
    }

    /// Every location's copy of the audit objects and region heads, which are signed (or
    /// sealed under the audit key) rather than sealed like the repository's objects: a copy
    /// that is missing, altered, truncated or planted is named (`missing-copy`,
    /// `corrupt-copy`) and, with repair, replaced by an authentic copy from another location.
    func signedCopies(in repo: Repository, repair: Bool) -> [VerifyProblem] {
        guard let check = try? SignedObjects(keyring: deployment.keyring()) else { return [] }
        let authentic = check.isAuthentic
        var out: [VerifyProblem] = []
        for name in repo.listReplicated(prefix: "audit/") + repo.listReplicated(prefix: "heads/") {
            var copies: [(loc: any ObjectStore, bytes: [UInt8]?)] = []
            for loc in repo.locations { copies.append((loc, try? loc.get(name))) }
            let good = copies.compactMap(\.bytes).first { authentic(name, $0) }
            // Under leafguard's own folders yet authentic nowhere: planted (or every copy of it
            // damaged). Named in each location that holds it, and left untouched.
            guard let good else {
                for (loc, bytes) in copies where bytes != nil {
                    out.append(
                        VerifyProblem(
                            location: loc.name, object: name, kind: .stray, snapshots: [], repaired: false,
                            detail: "in a folder of leafguard's but authentic in no location (planted?); left untouched"))
                }
                continue
            }
            for (loc, bytes) in copies where bytes.map({ !authentic(name, $0) }) ?? true {
                let kind: VerifyProblem.Kind = bytes == nil ? .missingCopy : .corruptCopy
                var p = VerifyProblem(
                    location: loc.name, object: name, kind: kind, snapshots: [], repaired: false,
                    detail: bytes == nil
                        ? "a copy of a signed audit object is missing" : "the copy's signature or seal does not verify; the other copies are used")
                if repair {
                    p.repaired = (try? (bytes == nil ? loc.put(name, good) : loc.replace(name, good))) != nil
                    if p.repaired { try? loc.sync() }
                }
                out.append(p)
            }
        }
        return out
    }
}
