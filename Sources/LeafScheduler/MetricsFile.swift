import Foundation

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

    /// Writes the last run of every job in `jobs` (the configured ones: a job whose file was
    /// removed has no series any more) and the scheduler's health to `path`, replacing the
    /// file atomically.
    public static func write(catalog: RunCatalog, jobs: [String], to path: String, now: Date, health: SchedulerHealth? = nil) throws {
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
        for job in names {
            let label = "job=\"\(escape(job))\""
            running.append((label, Double(try catalog.runningRuns(job: job).count)))
            guard let last = try catalog.lastFinished(job: job) else { continue }
            start.append((label, last.started.timeIntervalSince1970))
            // A clean success only: a warned run did its work with warnings, and an alert on
            // "no success for 26 h" must still fire through a week of warned runs.
            if let s = try catalog.lastSucceeded(job: job) { success.append((label, (s.finished ?? s.started).timeIntervalSince1970)) }
            seconds.append((label, last.seconds ?? 0))
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

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.3f", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
