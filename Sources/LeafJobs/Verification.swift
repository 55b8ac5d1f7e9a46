import Foundation
import LeafConfig
import LeafRepository

/// Runs verify on regions for the `verify` step and `leafguard verify`, choosing which
/// packs to read so that successive runs cover the whole repository: the given percentage
/// of packs, least recently read first (remembered in STATE/verify-REGION.json).
public struct Verification: Sendable {
    public let deployment: Deployment

    public init(deployment: Deployment) { self.deployment = deployment }

    public struct RegionReport: Sendable {
        public let region: String
        public let report: VerifyReport
    }

    /// - Parameters:
    ///   - regions: the regions to check (default: every configured region holding a repository).
    ///   - readPercent: 0 checks structure only; 100 reads everything.
    public func run(regions: [String]?, readPercent: Int, repair: Bool, now: Date = Date()) throws -> [RegionReport] {
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
            let ledger = config.stateDirectory + "/verify-\(name).json"
            var lastRead = (try? JSONDecoder().decode([String: Double].self, from: Data(contentsOf: URL(fileURLWithPath: ledger)))) ?? [:]
            var chosen: [ObjectID] = []
            var report = try repo.verify(readPacks: { packs in
                let count = readPercent >= 100 ? packs.count : Int((Double(packs.count) * Double(readPercent) / 100).rounded(.up))
                let pick = packs.sorted { (lastRead[$0.id.hex] ?? 0, $0.id) < (lastRead[$1.id.hex] ?? 0, $1.id) }.prefix(count)
                chosen = pick.map(\.id)
                return Array(pick)
            }, repair: repair, otherRegions: others)
            // The keyring: a current, authentic copy in every location.
            var keyringProblems: [VerifyProblem] = []
            for loc in (try? deployment.staleKeyringCopies(in: name)) ?? [] {
                keyringProblems.append(VerifyProblem(location: loc, object: Deployment.keyringObject, kind: "missing-copy", snapshots: [], repaired: false,
                                                     detail: "the keyring copy is missing, out of date or does not authenticate"))
            }
            if repair && !keyringProblems.isEmpty, (try? deployment.publishKeyring(to: name)) != nil {
                for i in keyringProblems.indices { keyringProblems[i].repaired = true }
            }
            report.problems += keyringProblems
            for id in chosen { lastRead[id.hex] = now.timeIntervalSince1970 }
            try FileManager.default.createDirectory(atPath: config.stateDirectory, withIntermediateDirectories: true)
            try JSONEncoder().encode(lastRead).write(to: URL(fileURLWithPath: ledger), options: .atomic)
            out.append(RegionReport(region: name, report: report))
        }
        return out
    }
}
