import Foundation
import LeafAudit
import LeafCompliance
import LeafConfig
import LeafDeployment
import LeafKeys
import LeafRepository
import LeafSQLite
import LeafTime
import Logging

/// A promise's verdict. Ordered: pass < warn < fail.
public enum Verdict: String, Codable, Sendable, Comparable, CaseIterable {
    case pass, warn, fail
    /// The verdict's place in that order (pass 0, warn 1, fail 2), e.g. for an exit status.
    public var rank: Int { Verdict.allCases.firstIndex(of: self) ?? 0 }
    /// Orders verdicts by `rank`.
    public static func < (a: Verdict, b: Verdict) -> Bool { a.rank < b.rank }
}

/// One promise of the security page and the live evidence for it.
public struct PromiseEvidence: Codable, Sendable {
    /// The promise's id (e.g. `encryption`), stable for monitoring.
    public let id: String
    /// The promise in the security page's words.
    public let title: String
    /// The worst verdict any of its checks gave.
    public var verdict: Verdict = .pass
    /// The figures behind the verdict, for monitoring.
    public var figures: [String: Double] = [:]
    /// One line per fact, for people.
    public var evidence: [String] = []
    /// Why the verdict is not pass.
    public var reasons: [String] = []

    init(id: String, title: String) { self.id = id; self.title = title }

    mutating func note(_ line: String) { evidence.append(line) }
    mutating func judge(_ v: Verdict, _ why: String) {
        verdict = max(verdict, v)
        reasons.append("\(v.rawValue): \(why)")
    }
}

/// A point of a trend: when, and the value then.
public struct TrendPoint: Codable, Sendable, Equatable {
    /// The instant of the point.
    public let at: Date
    /// The value then.
    public let value: Double
}

/// The posture report: every promise with its verdict, the banner (the worst verdict),
/// and trends over the run history.
public struct PostureReport: Codable, Sendable {
    /// Always `posture-report`.
    public var kind = "posture-report"
    /// When the report was made (the deployment's clock).
    public let generated: Date
    /// The period the report looks back over, in days.
    public let periodDays: Double
    /// The banner: the worst verdict of any promise.
    public var verdict: Verdict
    /// Every promise with its evidence, in the security page's order.
    public var promises: [PromiseEvidence]
    /// Recovery point (hours) at each snapshot of the primary, MFA adoption (%) and open
    /// findings at each archived scan.
    public var trends: [String: [TrendPoint]]
}

/// Gathers the evidence from the deployment itself: the regions, the keyring, the drill
/// history, the latest compliance scan, the audit log and activity seals, the run catalog.
public struct PostureCollector {
    /// The deployment whose evidence is gathered.
    public let deployment: Deployment
    /// The instant the report is made as of.
    public let now: Date
    /// The folder the scan step writes to (its manifest has the latest totals and counts).
    public let scanDirectory: String

    /// A collector of `deployment`'s evidence as of `now`, reading the latest scan from `scanDirectory`.
    public init(deployment: Deployment, now: Date, scanDirectory: String) {
        self.deployment = deployment; self.now = now; self.scanDirectory = scanDirectory
    }

    var config: LeafguardConfig { deployment.config }
    var t: PostureThresholds { config.posture }

    /// Reads every source of evidence and judges each promise; an unreachable region or missing record is evidence too (a warn or fail), never an error.
    public func collect() -> PostureReport {
        var trends: [String: [TrendPoint]] = [:]
        var repos: [String: Repository] = [:]
        var unreachable: [String: String] = [:]
        for name in config.regionNames {
            do { repos[name] = try deployment.repository(name) } catch { unreachable[name] = "\(error)" }
        }
        // The run catalog, read once: the verify, seal and runner sections all look at it.
        let history = RunHistory(config.state)
        let runs = history.runs()
        var promises = [
            encryption(repos, unreachable),
            sharding(repos, runs, history),
            regions(repos, unreachable, &trends),
            recoverability(),
            keys(repos),
        ]
        promises += compliance(config.regionNames.first.flatMap { repos[$0] }, &trends)
        promises.append(activityLog(runs))
        promises.append(runner(runs, lastTick: history.lastTick))
        let verdict = promises.map(\.verdict).max() ?? .pass
        // The verdicts are what the metrics file's posture series say until the next report.
        MetricsFacts.update(config.state) { facts in facts.posture = Dictionary(uniqueKeysWithValues: promises.map { ($0.id, $0.verdict.rank) }) }
        return PostureReport(generated: now, periodDays: t.periodDays, verdict: verdict, promises: promises, trends: trends)
    }

    // MARK: Promises

    func encryption(_ repos: [String: Repository], _ unreachable: [String: String]) -> PromiseEvidence {
        var p = PromiseEvidence(id: "encryption", title: "AES-256 encryption at rest")
        var total = 0
        var aes = 0
        for (name, repo) in repos.sorted(by: { $0.key < $1.key }) {
            guard let index = try? repo.loadIndex() else { p.judge(.fail, "the index of '\(name)' cannot be read"); continue }
            var byAlgorithm: [String: Int] = [:]
            for pack in index.packs.values {
                let alg = (try? repo.dataKey(pack.dataKey).algorithm.name) ?? "unreadable"
                byAlgorithm[alg, default: 0] += 1
            }
            let n = index.packs.count
            let a = byAlgorithm["AES-256-GCM"] ?? 0
            total += n; aes += a
            let census = repo.keyCensus()
            let versions = census.byVersion.sorted { $0.key < $1.key }.map { "v\($0.key): \($0.value)" }.joined(separator: ", ")
            p.note(
                "'\(name)': \(a) of \(n) packs sealed with AES-256-GCM\(byAlgorithm.filter { $0.key != "AES-256-GCM" }.map { ", \($0.value) with \($0.key)" }.joined()); data keys by master-key version: \(versions.isEmpty ? "none" : versions)"
            )
            if byAlgorithm["unreadable"] != nil { p.judge(.fail, "'\(name)' has packs whose data key cannot be opened") }
        }
        for (name, why) in unreachable.sorted(by: { $0.key < $1.key }) { p.judge(.fail, "'\(name)' cannot be opened: \(why)") }
        p.figures["packs"] = Double(total)
        p.figures["aes256gcm_share"] = total == 0 ? 1 : Double(aes) / Double(total)
        if aes < total { p.judge(.warn, "\(total - aes) packs are sealed with XChaCha20-Poly1305 (this CPU lacks AES-NI), not AES-256-GCM") }
        return p
    }

    func sharding(_ repos: [String: Repository], _ runs: [HistoricRun], _ history: RunHistory) -> PromiseEvidence {
        var p = PromiseEvidence(id: "sharding", title: "Data sharded across locations (\(config.shards))")
        var misplaced = 0
        var packs = 0
        var unread = 0
        for (name, repo) in repos.sorted(by: { $0.key < $1.key }) {
            guard let index = try? repo.loadIndex() else { continue }
            let off = index.packs.values.filter { $0.dataShards + $0.parityShards != config.shards.total || Set($0.locations).count != $0.locations.count }
            misplaced += off.count
            packs += index.packs.count
            // Coverage: packs verification read within the window (the verify ledger).
            let lastRead = history.verifyLedger(name)
            let since = now.timeIntervalSince1970 - t.verifyCoverageDays * 86400
            let covered = index.packs.keys.filter { (lastRead[$0.hex] ?? 0) >= since }.count
            unread += index.packs.count - covered
            p.note(
                "'\(name)': \(index.packs.count) packs, \(off.count) outside the \(config.shards) layout or with two shards in one location; "
                    + "\(covered) of \(index.packs.count) authenticated by verify in the last \(Int(t.verifyCoverageDays)) days")
        }
        p.figures["packs"] = Double(packs)
        p.figures["misplaced_packs"] = Double(misplaced)
        p.figures["verify_coverage"] = packs == 0 ? 1 : Double(packs - unread) / Double(packs)
        if misplaced > 0 { p.judge(.warn, "\(misplaced) packs are in another layout (reencrypt with shards: {data, parity} moves them)") }
        if unread > 0 { p.judge(.warn, "\(unread) packs were not authenticated by verify in the last \(Int(t.verifyCoverageDays)) days") }
        // Judged by the verify step itself, citing it: a run whose backup step warned while
        // its verify step passed says nothing against the sharding.
        if let last = lastRun(step: "verify", in: runs), let step = last.steps.last(where: { $0.step == "verify" }) {
            switch step.status {
            case .succeeded: break
            case .warning: p.judge(.warn, "the verify step of \(last.job) at \(iso(last.started)) warned: \(step.summary)")
            case .skipped, .unavailable:
                p.judge(.warn, "the verify step of \(last.job) at \(iso(last.started)) did not run (\(step.status.rawValue)): \(step.summary)")
            case .failed: p.judge(.fail, "the verify step of \(last.job) at \(iso(last.started)) failed: \(step.summary)")
            }
        }
        return p
    }

    func regions(_ repos: [String: Repository], _ unreachable: [String: String], _ trends: inout [String: [TrendPoint]]) -> PromiseEvidence {
        var p = PromiseEvidence(id: "regions", title: "A primary and a backup region")
        var newest: [String: Date] = [:]
        for (name, repo) in repos.sorted(by: { $0.key < $1.key }) {
            // The last snapshot written (not the newest date: a run with --now dates ahead), its
            // age taken no lower than zero.
            if let id = deployment.latestWritten(in: repo, logger: Logger(label: "leafguard.posture")), let s = try? repo.loadSnapshot(id) {
                newest[name] = min(s.time, now)
                p.note("'\(name)': newest snapshot \(s.id.short) of \(iso(s.time)) (\(hours(now.timeIntervalSince(s.time))) h old)")
            } else {
                p.note("'\(name)': no snapshot")
            }
        }
        for (name, why) in unreachable.sorted(by: { $0.key < $1.key }) { p.note("'\(name)': unreachable (\(why))") }
        let point = newest.values.max()
        let recoveryPoint = point.map { now.timeIntervalSince($0) / 3600 }
        p.figures["recovery_point_hours"] = recoveryPoint ?? -1
        if let rp = recoveryPoint {
            if rp > t.recoveryPointFailHours {
                p.judge(.fail, "the newest restorable snapshot is \(hours(rp * 3600)) h old (fail above \(Int(t.recoveryPointFailHours)) h)")
            } else if rp > t.recoveryPointWarnHours {
                p.judge(.warn, "the newest restorable snapshot is \(hours(rp * 3600)) h old")
            }
        } else {
            p.judge(.fail, "no region holds a snapshot")
        }
        for name in config.regionNames where newest[name] == nil { p.judge(.fail, "region '\(name)' holds no snapshot or cannot be reached") }
        if let primary = config.regionNames.first, let a = newest[primary] {
            for name in config.regionNames.dropFirst() {
                guard let b = newest[name] else { continue }
                let lag = max(0, a.timeIntervalSince(b)) / 3600
                p.figures["replication_lag_hours_\(name)"] = lag
                if lag > t.replicationLagFailHours { p.judge(.fail, "'\(name)' trails '\(primary)' by \(hours(lag * 3600)) h") }
            }
        }
        // Recovery point over time: how old the newest snapshot was just before each one.
        if let primary = config.regionNames.first, let repo = repos[primary], let snaps = try? repo.snapshots() {
            var points: [TrendPoint] = []
            for (i, s) in snaps.enumerated() where i > 0 { points.append(TrendPoint(at: s.time, value: s.time.timeIntervalSince(snaps[i - 1].time) / 3600)) }
            if let last = snaps.last { points.append(TrendPoint(at: now, value: now.timeIntervalSince(last.time) / 3600)) }
            trends["recovery_point_hours"] = Array(points.suffix(60))
        }
        return p
    }

    func recoverability() -> PromiseEvidence {
        var p = PromiseEvidence(id: "recoverability", title: "Backups restore (drills)")
        let drills = DrillHistory(stateDirectory: config.stateDirectory).all()
        for name in config.regionNames {
            guard let last = drills.last(where: { $0.region == name }) else {
                p.note("'\(name)': never drilled")
                p.judge(.warn, "'\(name)' has never been drilled")
                continue
            }
            let age = now.timeIntervalSince(last.time) / 86400
            p.note(
                "'\(name)': last drill \(iso(last.time)) \(last.outcome), snapshot \(last.snapshot ?? "-"), recovery time \(String(format: "%.1f", last.seconds)) s"
            )
            p.figures["recovery_time_seconds_\(name)"] = last.seconds
            if last.outcome != "succeeded" { p.judge(.fail, "the last drill of '\(name)' failed: \(last.detail ?? "")") }
            if age > 2 * t.drillMaxAgeDays {
                p.judge(.fail, "'\(name)' was last drilled \(Int(age)) days ago")
            } else if age > t.drillMaxAgeDays {
                p.judge(.warn, "'\(name)' was last drilled \(Int(age)) days ago")
            }
            if last.seconds > t.recoveryTimeWarnMinutes * 60 { p.judge(.warn, "the last drill of '\(name)' took \(Int(last.seconds / 60)) minutes") }
        }
        return p
    }

    func keys(_ repos: [String: Repository]) -> PromiseEvidence {
        var p = PromiseEvidence(id: "keys", title: "Key hygiene")
        guard let ring = try? deployment.keyring() else {
            p.judge(.fail, "the keyring cannot be opened with the configured key")
            return p
        }
        guard let active = ring.records.first(where: { $0.state == .active }) else {
            p.judge(.fail, "the keyring has no active version")
            return p
        }
        let age = now.timeIntervalSince(active.created) / 86400
        p.figures["active_key_age_days"] = age
        p.note(
            "active master-key version \(active.version), created \(iso(active.created)) (\(Int(age)) days ago; rotation every \(Int(t.keyRotationDays)) days)")
        var wrapping: [UInt32: Int] = [:]
        for repo in repos.values { for (v, n) in repo.keyCensus().byVersion { wrapping[v, default: 0] += n } }
        let old = wrapping.filter { $0.key != active.version && $0.value > 0 }
        p.note(
            "versions wrapping data keys: "
                + (wrapping.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "v\($0.key) (\($0.value))" }.joined(separator: ", ")))
        let retired = ring.records.filter { $0.state == .retired }.map { "v\($0.version)\($0.sealed == nil ? " (wiped)" : "")" }
        p.note("retired versions: \(retired.isEmpty ? "none" : retired.joined(separator: ", "))")
        p.figures["old_versions_in_use"] = Double(old.count)
        if age > t.keyRotationDays + 10 {
            p.judge(.fail, "the active master key is \(Int(age)) days old (rotation every \(Int(t.keyRotationDays)) days)")
        } else if age > t.keyRotationDays {
            p.judge(.warn, "the active master key is due for rotation (\(Int(age)) days old)")
        }
        if !old.isEmpty {
            p.judge(.warn, "older versions still wrap data keys: \(old.keys.sorted().map { "v\($0)" }.joined(separator: ", ")) (run keys rotate)")
        }
        return p
    }

    /// MFA and passwords, and least privilege, from the latest scan's manifest.
    /// `primary`: the primary region's repository (its archived scans give the trends).
    func compliance(_ primary: Repository?, _ trends: inout [String: [TrendPoint]]) -> [PromiseEvidence] {
        var mfa = PromiseEvidence(id: "mfa-passwords", title: "MFA and strong passwords")
        var access = PromiseEvidence(id: "least-privilege", title: "Least-privilege access for additional users")
        let previous = ComplianceOutput.previous(in: scanDirectory)
        guard let scan = previous, let asOf = Timestamp.parse(scan.asOf) else {
            for i in [0, 1] {
                var p = i == 0 ? mfa : access; p.judge(.fail, "no compliance scan in \(scanDirectory)"); if i == 0 { mfa = p } else { access = p }
            }
            return [mfa, access]
        }
        func n(_ rule: String) -> Int { scan.summary[rule]?.count ?? 0 }
        let adoption = scan.totals.activeUsers == 0 ? 100 : Double(scan.totals.activeUsersWithMFA) * 100 / Double(scan.totals.activeUsers)
        let stale = now.timeIntervalSince(asOf) / 3600 > t.scanMaxAgeHours
        mfa.figures["mfa_adoption_percent"] = adoption
        mfa.note(
            "scan as of \(scan.asOf): MFA adoption \(String(format: "%.1f", adoption)) % (\(scan.totals.activeUsersWithMFA) of \(scan.totals.activeUsers) active users)"
        )
        for rule in ["MFA-REQUIRED", "MFA-OWNER", "MFA-MISSING", "MFA-SMS-ONLY", "PWD-MISSING", "PWD-POLICY", "PWD-HASH-LEGACY", "PWD-HASH-WEAK"] {
            mfa.figures[rule] = Double(n(rule)); mfa.note("\(rule): \(n(rule))")
        }
        if n("MFA-REQUIRED") > 0 { mfa.judge(.fail, "\(n("MFA-REQUIRED")) additional users lack the MFA their account's owner requires") }
        if n("PWD-HASH-LEGACY") > 0 { mfa.judge(.fail, "\(n("PWD-HASH-LEGACY")) passwords are stored with a legacy hash") }
        let soft = n("MFA-OWNER") + n("PWD-POLICY") + n("PWD-MISSING") + n("PWD-HASH-WEAK")
        if soft > 0 { mfa.judge(.warn, "\(soft) owner-MFA, password-policy or weak-hash findings") }
        for rule in ["ACCESS-ORPHAN", "ACCESS-ROLE", "ACCESS-BROAD", "ACCESS-DORMANT"] {
            access.figures[rule] = Double(n(rule)); access.note("\(rule): \(n(rule))")
        }
        if n("ACCESS-ORPHAN") > 0 { access.judge(.fail, "\(n("ACCESS-ORPHAN")) grants held by non-members or disabled users") }
        let broad = n("ACCESS-ROLE") + n("ACCESS-BROAD") + n("ACCESS-DORMANT")
        if broad > 0 { access.judge(.warn, "\(broad) role, breadth or dormancy findings") }
        if stale {
            mfa.judge(.warn, "the latest scan is older than \(Int(t.scanMaxAgeHours)) h")
            access.judge(.warn, "the latest scan is older than \(Int(t.scanMaxAgeHours)) h")
        }
        // Trends from the scans archived in the primary region.
        if let repo = primary {
            var adoptionPoints: [TrendPoint] = []
            var findingPoints: [TrendPoint] = []
            for id in repo.reportIDs().suffix(60) {
                guard let r = try? repo.loadReport(id) else { continue }
                findingPoints.append(TrendPoint(at: r.created, value: Double(r.figures["findings"] ?? 0)))
                if let active = r.figures["active_users"], let with = r.figures["active_users_with_mfa"], active > 0 {
                    adoptionPoints.append(TrendPoint(at: r.created, value: Double(with) * 100 / Double(active)))
                }
            }
            trends["findings"] = findingPoints
            trends["mfa_adoption_percent"] = adoptionPoints
        }
        return [mfa, access]
    }

    func activityLog(_ runs: [HistoricRun]) -> PromiseEvidence {
        var p = PromiseEvidence(id: "activity-log", title: "A detailed, tamper-evident activity log")
        let trail = AuditTrail(deployment: deployment, logger: Logger(label: "leafguard.posture"))
        do {
            let keys = try deployment.auditKeys()
            var newest: Checkpoint?
            for (_, _, bytes) in trail.checkpointCopies() {
                if let c = try? Checkpoint.open(bytes, publicKeys: keys.publicKeys), c.length > newest?.length ?? -1 { newest = c }
            }
            let log = try trail.log.verify(checkpoint: newest)
            p.note(
                "leafguard's audit log: \(log.entries) entries, \(log.intact ? "intact" : "TAMPERED") against checkpoint \(newest.map { "of \($0.at)" } ?? "none")"
            )
            if !log.intact { p.judge(.fail, "leafguard's audit log: \(log.problems.first ?? "")") }
            let sealer = ActivitySealer(stateDirectory: config.stateDirectory)
            let v = try sealer.verify(database: config.dataDirectory + "/planner.db", publicKeys: keys.publicKeys)
            p.figures["sealed_rows"] = Double(v.sealedRows)
            p.figures["tampered_rows"] = Double(v.changed.count + v.deleted.count + v.inserted.count)
            p.note(
                "planner activity log: \(v.seals) seals over \(v.sealedRows) rows, verified now: \(v.intact ? "intact" : "\(v.changed.count) changed, \(v.deleted.count) deleted, \(v.inserted.count) inserted")"
            )
            if !v.intact {
                p.judge(
                    .fail,
                    "sealed activity-log rows were altered: changed \(v.changed.prefix(5)), deleted \(v.deleted.prefix(5)), inserted \(v.inserted.prefix(5))\(v.sealProblems.first.map { "; \($0)" } ?? "")"
                )
            }
            if v.seals == 0 { p.judge(.warn, "the activity log has never been sealed") }
            if let last = lastRun(step: "seal-activity", in: runs) {
                let age = now.timeIntervalSince(last.started) / 3600
                p.note("last seal run \(iso(last.started)) \(last.outcome.rawValue)")
                if age > t.sealMaxAgeHours { p.judge(.warn, "the last seal ran \(hours(age * 3600)) h ago") }
            }
        } catch {
            p.judge(.fail, "cannot check the logs: \(error)")
        }
        return p
    }

    func runner(_ all: [HistoricRun], lastTick: Date?) -> PromiseEvidence {
        var p = PromiseEvidence(id: "runner", title: "The jobs that keep these promises run")
        let since = now.timeIntervalSince1970 - t.periodDays * 86400
        let runs = all.filter { $0.started.timeIntervalSince1970 >= since }
        let failed = runs.filter { [.failed, .timedOut, .interrupted].contains($0.outcome) }
        let missed = runs.reduce(0) { $0 + $1.missedCount }
        let warned = runs.filter { $0.outcome == .warned }
        p.figures["runs"] = Double(runs.count)
        p.figures["failed_runs"] = Double(failed.count)
        p.figures["warned_runs"] = Double(warned.count)
        p.figures["missed_runs"] = Double(missed)
        p.note(
            "last \(Int(t.periodDays)) days: \(runs.filter { $0.outcome != .missed }.count) runs, \(failed.count) failed, \(warned.count) warned, \(missed) scheduled runs missed"
        )
        for r in failed.suffix(5) { p.note("failed: \(r.job) at \(iso(r.started)) (\(r.outcome.rawValue))") }
        for r in warned.suffix(5) { p.note("warned: \(r.job) at \(iso(r.started)): \(r.summary.prefix(200))") }
        if !failed.isEmpty { p.judge(.warn, "\(failed.count) runs failed in the period") }
        if !warned.isEmpty { p.judge(.warn, "\(warned.count) runs ended with warnings in the period") }
        if missed > 0 { p.judge(.warn, "\(missed) scheduled runs were missed") }
        // A scheduler that stopped being called misses nothing it records: the tick's own time says so.
        if let last = lastTick {
            p.figures["seconds_since_tick"] = now.timeIntervalSince(last)
            if now.timeIntervalSince(last) > 600 {
                p.judge(.warn, "leafguard tick last ran at \(iso(last)): the scheduler has stopped (is the crontab, timer or CronJob still there?)")
            }
        }
        return p
    }

    /// The newest finished run that had a step of this kind.
    func lastRun(step: String, in runs: [HistoricRun]) -> HistoricRun? {
        runs.last { $0.outcome != .running && $0.steps.contains { $0.step == step } }
    }

    func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }
    func hours(_ seconds: Double) -> String { String(format: "%.1f", seconds / 3600) }
}
