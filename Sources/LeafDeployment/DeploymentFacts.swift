import Foundation
import LeafRepository
import LeafState

extension Deployment {
    /// Learns what each region holds (snapshots, the newest one's time, packs, stored bytes,
    /// packs verify has not read within `coverageDays`) and the active key's age, and keeps
    /// it for the metrics file. Regions that hold no repository or cannot be read keep what
    /// was learned before (their `learned` time says how old it is). Best effort, like the
    /// metrics file itself.
    public func learnFacts(coverageDays: Double, now: Date? = nil) {
        let now = now ?? clock.now
        var learned: [String: MetricsFacts.Region] = [:]
        let history = RunHistory(config.state)
        for name in config.regionNames {
            guard let repo = try? repository(name), let index = try? repo.loadIndex() else { continue }
            let ids = repo.snapshotIDs()
            let ledger = history.verifyLedger(name)
            let since = now.timeIntervalSince1970 - coverageDays * 86400
            learned[name] = MetricsFacts.Region(
                snapshots: ids.count, newestSnapshot: ids.max()?.orderedTime.timeIntervalSince1970,
                storedBytes: Double(index.packs.values.reduce(Int64(0)) { $0 + $1.storedBytes }), packs: index.packs.count,
                packsUnverified: index.packs.keys.filter { (ledger[$0.hex] ?? 0) < since }.count, learned: now.timeIntervalSince1970)
        }
        let keyCreated = (try? keyring())?.records.filter { $0.state == .active }.map(\.created).max()
        MetricsFacts.update(config.state) { facts in
            for (name, region) in learned { facts.regions[name] = region }
            // A region no longer configured has no series.
            facts.regions = facts.regions.filter { config.regionNames.contains($0.key) }
            facts.verifyProblems = facts.verifyProblems.filter { config.regionNames.contains($0.key) }
            if let keyCreated { facts.activeKeyCreated = keyCreated.timeIntervalSince1970 }
        }
    }
}
