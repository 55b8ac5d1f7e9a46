import Foundation
import LeafSQLite

/// One run as readers of the history see it.
public struct HistoricRun: Sendable, Equatable {
    /// The run's id in the catalog.
    public let id: Int64
    /// The job's name.
    public let job: String
    /// When it started.
    public let started: Date
    /// When it ended; nil while running.
    public let finished: Date?
    /// How it ended (`running` while it runs).
    public let outcome: RunOutcome
    /// One line about the run.
    public let summary: String
    /// Bytes it stored, copied or freed.
    public let bytes: Double
    /// Its steps' results, in order (none for a record that cannot be decoded).
    public let steps: [StepResult]
    /// The fire times a `missed` entry stands for; 0 for a run.
    public let missedCount: Int
}

/// The run history, read-only: what the scheduler recorded (runs and their outcomes, the
/// last tick) and what verify recorded (when each pack was last read), for the posture
/// report and the metrics file. The scheduler's `RunCatalog` is its only writer.
public struct RunHistory: Sendable {
    /// The state folder it reads.
    public let layout: StateLayout

    /// The history kept in `layout`'s state folder.
    public init(_ layout: StateLayout) { self.layout = layout }

    /// Every run the catalog holds, oldest first; dry runs left out unless asked for. An
    /// absent or unreadable catalog holds none.
    public func runs(includingDryRuns: Bool = false) -> [HistoricRun] {
        guard FileManager.default.fileExists(atPath: layout.catalog), let db = try? Database(path: layout.catalog, mode: .readOnly) else { return [] }
        let filter = includingDryRuns ? "" : "WHERE dry_run = 0"
        // A catalog no scheduler of this version has opened yet (opened read-only here, it is
        // not migrated) lacks the `missed` column: its count is the one migration 2 takes.
        let missed = "CASE WHEN outcome = 'missed' THEN MAX(1, CAST(summary AS INTEGER)) ELSE 0 END"
        let columns = "id, job, started, finished, outcome, summary, bytes, steps"
        guard
            let rows = (try? db.query("SELECT \(columns), missed FROM runs \(filter) ORDER BY id"))
                ?? (try? db.query("SELECT \(columns), \(missed) FROM runs \(filter) ORDER BY id"))
        else { return [] }
        return rows.compactMap { r in
            guard let id = r[0].int, let job = r[1].text, let started = r[2].double, let outcome = r[4].text.flatMap(RunOutcome.init) else { return nil }
            let steps = r[7].text.flatMap { try? JSONDecoder().decode([StepResult].self, from: Data($0.utf8)) } ?? []
            return HistoricRun(
                id: id, job: job, started: Date(timeIntervalSince1970: started), finished: r[3].double.map(Date.init(timeIntervalSince1970:)),
                outcome: outcome, summary: r[5].text ?? "", bytes: r[6].double ?? 0, steps: steps, missedCount: Int(r[8].int ?? 0))
        }
    }

    /// When `tick` last ran, if it ever did.
    public var lastTick: Date? {
        guard let text = try? String(contentsOfFile: layout.tickFile, encoding: .utf8) else { return nil }
        return Self.instant(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// When each pack of `region` was last read whole by verify (pack id → Unix time).
    public func verifyLedger(_ region: String) -> [String: Double] {
        (try? JSONDecoder().decode([String: Double].self, from: Data(contentsOf: URL(fileURLWithPath: layout.verifyLedger(region))))) ?? [:]
    }

    /// Unix seconds (what leafguard writes), or ISO 8601 (what versions before it wrote).
    static func instant(_ text: String) -> Date? {
        if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}
