import Foundation
import LeafState

/// Writes each job's last run as Prometheus text for node_exporter's textfile collector:
/// a `.prom` file replaced atomically (written beside it, then renamed) so the collector
/// never reads half of it.
public enum MetricsFile {
    /// What the scheduler knows beyond the catalog: when `tick` last ran, which jobs are
    /// overdue, how many job files are in error.
    public struct SchedulerHealth: Sendable {
        /// When `tick` last ran; nil if it never did.
        public var lastTick: Date?
        /// Per scheduled job, whether a fire time is overdue.
        public var overdue: [String: Bool] = [:]
        /// How many job files are in error; nil when not known.
        public var brokenJobFiles: Int?
        /// Health with the given parts.
        public init(lastTick: Date?, overdue: [String: Bool] = [:], brokenJobFiles: Int? = nil) {
            self.lastTick = lastTick; self.overdue = overdue; self.brokenJobFiles = brokenJobFiles
        }
    }

    /// What the deployment's regions, keys, posture and compliance look like, as commands
    /// learned them (`MetricsFacts`) and the restore drills recorded them.
    public struct DeploymentState: Sendable {
        /// The regions configured now: only they have series.
        public var regions: [String]
        /// What commands learned.
        public var facts: MetricsFacts
        /// Each region's last drill: whether it succeeded, its recovery time, when it ran.
        public var drills: [String: (succeeded: Bool, seconds: Double, time: Date)]
        /// Problems in leafguard.yml and the job files: jobs in error do not run.
        public var configErrors: Int
        /// A state with the given parts.
        public init(regions: [String], facts: MetricsFacts, drills: [String: (succeeded: Bool, seconds: Double, time: Date)], configErrors: Int) {
            self.regions = regions; self.facts = facts; self.drills = drills; self.configErrors = configErrors
        }
    }

    /// Writes the last run of every job in `jobs` (the configured ones: a job whose file was
    /// removed has no series any more), the scheduler's health and the deployment's state to
    /// `path`, replacing the file atomically.
    public static func write(
        history: RunHistory, jobs: [String], to path: String, now: Date, health: SchedulerHealth? = nil, deployment: DeploymentState? = nil
    ) throws {
        var lines: [String] = []
        func family(_ name: String, _ help: String, _ samples: [(String, Double)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            for (labels, value) in samples { lines.append("\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(format(value))") }
        }
        let names = Array(Set(jobs)).sorted()
        var start: [(String, Double)] = []
        var success: [(String, Double)] = []
        var seconds: [(String, Double)] = []
        var outcome: [(String, Double)] = []
        var succeeded: [(String, Double)] = []
        var bytes: [(String, Double)] = []
        var running: [(String, Double)] = []
        let runs = Dictionary(grouping: history.runs(), by: \.job)
        for job in names {
            let label = "job=\"\(escape(job))\""
            let mine = runs[job] ?? []
            running.append((label, Double(mine.filter { $0.outcome == .running }.count)))
            guard let last = mine.last(where: { $0.outcome != .running && $0.outcome != .missed }) else { continue }
            start.append((label, last.started.timeIntervalSince1970))
            // A clean success only: a warned run did its work with warnings, and an alert on
            // "no success for 26 h" must still fire through a week of warned runs.
            if let s = mine.last(where: { $0.outcome == .succeeded }) { success.append((label, (s.finished ?? s.started).timeIntervalSince1970)) }
            seconds.append((label, last.finished.map { $0.timeIntervalSince(last.started) } ?? 0))
            for o in RunOutcome.allCases where o != .running && o != .missed {
                outcome.append(("\(label),outcome=\"\(o.rawValue)\"", o == last.outcome ? 1 : 0))
            }
            succeeded.append((label, last.outcome == .succeeded ? 1 : 0))
            bytes.append((label, last.bytes))
        }
        family("leafguard_job_last_start_timestamp_seconds", "Start of the job's last finished run, Unix time.", start)
        family("leafguard_job_last_success_timestamp_seconds", "End of the job's last successful run, Unix time.", success)
        family("leafguard_job_last_duration_seconds", "Duration of the job's last finished run.", seconds)
        family("leafguard_job_last_outcome", "1 for the outcome of the job's last finished run, 0 for the others.", outcome)
        family("leafguard_job_last_succeeded", "1 if the job's last finished run succeeded, else 0.", succeeded)
        family("leafguard_job_last_bytes", "Bytes the job's last finished run stored, copied or freed.", bytes)
        family("leafguard_job_running", "Runs of the job in progress.", running)
        if let health {
            // Present from the first write (leafguard init writes one), 0 until a tick ran: an
            // alert on its age fires for a scheduler that never started, not only one that stopped.
            family(
                "leafguard_tick_last_seconds", "When leafguard tick last ran, Unix time; 0 before the first tick (alert when it is over 10 minutes old).",
                [("", health.lastTick?.timeIntervalSince1970 ?? 0)])
            if !health.overdue.isEmpty {
                family(
                    "leafguard_job_overdue", "1 if a fire time of the job passed over 10 minutes ago with no run and no recorded miss.",
                    health.overdue.sorted { $0.key < $1.key }.map { ("job=\"\(escape($0.key))\"", $0.value ? 1 : 0) })
            }
            if let n = health.brokenJobFiles {
                family("leafguard_job_file_errors", "Problems in job files at the last tick: those jobs do not run.", [("", Double(n))])
            }
        }
        if let deployment { lines += deploymentLines(deployment, now: now) }
        family("leafguard_metrics_written_timestamp_seconds", "When leafguard last wrote this file, Unix time.", [("", now.timeIntervalSince1970)])
        let text = lines.joined(separator: "\n") + "\n"

        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // node_exporter reads only *.prom: the temporary name must not end in .prom.
        let temporary = "\(path).\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw SchedulerError("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(temporary)
            throw SchedulerError("cannot replace \(path): \(e)")
        }
    }

    /// The per-region and per-deployment families: what alerts on the recovery point,
    /// verify problems, drills, key age, posture and compliance read.
    static func deploymentLines(_ d: DeploymentState, now: Date) -> [String] {
        var lines: [String] = []
        func family(_ name: String, _ help: String, _ samples: [(String, Double)]) {
            guard !samples.isEmpty else { return }
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            for (labels, value) in samples { lines.append("\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(format(value))") }
        }
        let regions = d.regions.sorted().compactMap { name in d.facts.regions[name].map { (name, "region=\"\(escape(name))\"", $0) } }
        family("leafguard_region_snapshots", "Snapshots the region lists.", regions.map { ($0.1, Double($0.2.snapshots)) })
        family(
            "leafguard_region_newest_snapshot_timestamp_seconds",
            "When the region's newest snapshot was taken, Unix time (the recovery point is now minus this).",
            regions.compactMap { r in r.2.newestSnapshot.map { (r.1, $0) } })
        family(
            "leafguard_region_recovery_point_seconds", "Age of the region's newest snapshot when this file was written.",
            regions.compactMap { r in r.2.newestSnapshot.map { (r.1, max(0, now.timeIntervalSince1970 - $0)) } })
        family(
            "leafguard_region_stored_bytes", "Bytes of every shard of every pack the region's index lists, parity included.",
            regions.map { ($0.1, $0.2.storedBytes) })
        family("leafguard_region_packs", "Packs the region's index lists.", regions.map { ($0.1, Double($0.2.packs)) })
        family(
            "leafguard_region_packs_unverified", "Packs no verify read whole within the coverage window (posture.verify_coverage_days, 30 by default).",
            regions.map { ($0.1, Double($0.2.packsUnverified)) })
        family("leafguard_region_facts_timestamp_seconds", "When these region figures were learned, Unix time.", regions.map { ($0.1, $0.2.learned) })
        family(
            "leafguard_region_verify_problems", "Problems the region's last verify left unrepaired (0 when clean).",
            d.regions.sorted().compactMap { name in d.facts.verifyProblems[name].map { ("region=\"\(escape(name))\"", Double($0)) } })
        let drills = d.regions.sorted().compactMap { name in d.drills[name].map { ("region=\"\(escape(name))\"", $0) } }
        family("leafguard_region_drill_succeeded", "1 if the region's last restore drill succeeded, else 0.", drills.map { ($0.0, $0.1.succeeded ? 1 : 0) })
        family("leafguard_region_drill_recovery_seconds", "Recovery time of the region's last restore drill.", drills.map { ($0.0, $0.1.seconds) })
        family(
            "leafguard_region_drill_timestamp_seconds", "When the region's last restore drill ran, Unix time.",
            drills.map { ($0.0, $0.1.time.timeIntervalSince1970) })
        if let created = d.facts.activeKeyCreated {
            family("leafguard_key_active_created_timestamp_seconds", "When the active master-key version was made, Unix time.", [("", created)])
            family(
                "leafguard_key_active_age_seconds", "Age of the active master-key version when this file was written.",
                [("", max(0, now.timeIntervalSince1970 - created))])
        }
        family(
            "leafguard_posture_verdict", "The last posture report's verdict per promise: 0 pass, 1 warn, 2 fail.",
            d.facts.posture.sorted { $0.key < $1.key }.map { ("promise=\"\(escape($0.key))\"", Double($0.value)) })
        family(
            "leafguard_compliance_findings", "Unexcepted findings of the last compliance scan, per severity.",
            d.facts.compliance.sorted { $0.key < $1.key }.map { ("severity=\"\(escape($0.key))\"", Double($0.value)) })
        family("leafguard_config_errors", "Problems in leafguard.yml and the job files (jobs in error do not run).", [("", Double(d.configErrors))])
        return lines
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.3f", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
