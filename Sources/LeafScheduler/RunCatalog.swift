import Foundation
import LeafConfig
import LeafJobs
import LeafSQLite

/// One run as the catalog holds it.
public struct RunRecord: Sendable, Codable, Equatable {
    /// The run's id, increasing.
    public var id: Int64
    /// The job's name.
    public var job: String
    /// Why it ran: a schedule, a catch-up, a retry, an `after` dependency or a person.
    public var trigger: RunTrigger
    /// The fire time it answers; nil for a run started by hand.
    public var scheduledFor: Date?
    /// 1 for the first attempt, 2 for the first retry, …
    public var attempt: Int
    /// When it started.
    public var started: Date
    /// When it ended; nil while running.
    public var finished: Date?
    /// How it ended.
    public var outcome: RunOutcome
    /// Whether it only said what it would do.
    public var dryRun: Bool
    /// The host it ran on.
    public var host: String
    /// Its process id there.
    public var pid: Int32
    /// The user it ran as.
    public var user: String
    /// One line: the failed step's summary, else every step's.
    public var summary: String
    /// Bytes the run stored, copied or freed (the sum of its steps' byte figures).
    public var bytes: Double
    /// The name of the file lock the running process holds; gone once it ends.
    public var lockToken: String
    /// Each step's result, in order.
    public var steps: [StepResult]

    /// How long it took; nil while running.
    public var seconds: Double? { finished.map { $0.timeIntervalSince(started) } }
}

/// The scheduler's memory of a job between ticks.
public struct JobScheduleState: Sendable, Equatable {
    /// The latest fire time a run was started (or recorded missed) for.
    public var handledFire: Date
    /// A failed scheduled run waits for this retry.
    public var retryAt: Date?
    /// The attempt the pending retry will be.
    public var retryAttempt: Int
    /// The fire time the pending retry belongs to.
    public var retryFire: Date?

    /// A state with the given parts.
    public init(handledFire: Date, retryAt: Date? = nil, retryAttempt: Int = 0, retryFire: Date? = nil) {
        self.handledFire = handledFire; self.retryAt = retryAt; self.retryAttempt = retryAttempt; self.retryFire = retryFire
    }
}

/// The catalog: run history and schedule state in one SQLite database in the state folder,
/// shared by every leafguard process (overlapping ticks, people running jobs, other hosts).
/// Decisions that must happen once — claiming a fire time, taking a retry — are single
/// IMMEDIATE transactions.
public final class RunCatalog {
    let db: Database
    /// `STATE/catalog.db`.
    public let path: String

    /// Opens (and creates, on first use) the catalog in `stateDirectory`.
    public init(stateDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        path = StateLayout(stateDirectory).catalog
        db = try Database(path: path, busyTimeoutMilliseconds: 30_000)
        // A rollback journal, not WAL: WAL needs shared memory, which hosts sharing the state
        // folder over NFS do not have; the catalog's writes are few and small.
        try? db.execute("PRAGMA journal_mode=DELETE")
        try db.execute("PRAGMA foreign_keys=ON")
        try migrate()
    }

    /// The catalog's schema, one step per version (`PRAGMA user_version`): a catalog at
    /// version N has had the first N applied. A new column or table is a new step at the
    /// end; a step never changes once released. Each step also holds for a catalog that an
    /// older leafguard made without recording a version (version 0 with tables in it).
    static let migrations: [@Sendable (Database) throws -> Void] = [
        // 1: runs and the scheduler's per-job state.
        { db in
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS runs(
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  job TEXT NOT NULL, trigger TEXT NOT NULL, scheduled_for REAL, attempt INTEGER NOT NULL,
                  started REAL NOT NULL, finished REAL, outcome TEXT NOT NULL, dry_run INTEGER NOT NULL,
                  host TEXT NOT NULL, pid INTEGER NOT NULL, user TEXT NOT NULL, summary TEXT NOT NULL,
                  bytes REAL NOT NULL DEFAULT 0, lock_token TEXT NOT NULL, steps TEXT NOT NULL DEFAULT '[]');
                CREATE INDEX IF NOT EXISTS runs_by_job ON runs(job, id);
                CREATE INDEX IF NOT EXISTS runs_running ON runs(outcome) WHERE outcome = 'running';
                CREATE TABLE IF NOT EXISTS job_state(
                  job TEXT PRIMARY KEY, handled_fire REAL NOT NULL,
                  retry_at REAL, retry_attempt INTEGER NOT NULL DEFAULT 0, retry_fire REAL);
                """)
        },
        // 2: how many fire times a `missed` entry stands for, filled once from the count its
        // summary starts with ("3 runs (due …) missed: …").
        { db in
            guard try !db.query("PRAGMA table_info(runs)").contains(where: { $0[1].text == "missed" }) else { return }
            try db.execute("ALTER TABLE runs ADD COLUMN missed INTEGER NOT NULL DEFAULT 0")
            try db.execute("UPDATE runs SET missed = MAX(1, CAST(summary AS INTEGER)) WHERE outcome = 'missed'")
        },
    ]

    /// Brings the catalog to the newest version, in one IMMEDIATE transaction (two processes
    /// opening an old catalog at once migrate it once). A catalog of a newer leafguard than
    /// this one is refused rather than misread.
    private func migrate() throws {
        func version() throws -> Int { Int(try db.query("PRAGMA user_version")[0][0].int ?? 0) }
        let latest = Self.migrations.count
        if try version() == latest { return }
        try db.transaction {
            let current = try version()
            guard current <= latest else {
                throw SchedulerError("\(path) is at schema version \(current), from a newer leafguard; this one knows up to \(latest): upgrade it")
            }
            for step in Self.migrations[current...] { try step(db) }
            try db.execute("PRAGMA user_version = \(latest)")
        }
    }

    // MARK: Runs

    /// Records a run that starts now; returns its id.
    public func begin(
        job: String, trigger: RunTrigger, scheduledFor: Date?, attempt: Int, started: Date,
        dryRun: Bool, lockToken: String, summary: String = ""
    ) throws -> Int64 {
        let who = Identity.current
        try db.run(
            """
            INSERT INTO runs(job, trigger, scheduled_for, attempt, started, outcome, dry_run, host, pid, user, summary, lock_token)
            VALUES(?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(job), .text(trigger.rawValue), scheduledFor.map { .real($0.timeIntervalSince1970) } ?? .null,
                .integer(Int64(attempt)), .real(started.timeIntervalSince1970), .integer(dryRun ? 1 : 0),
                .text(who.host), .integer(Int64(who.pid)), .text(who.user), .text(summary), .text(lockToken),
            ])
        return try db.query("SELECT last_insert_rowid()")[0][0].int ?? 0
    }

    /// Ends a run, unless something else (a timeout, a replacing run) ended it first.
    /// Returns false when it was already ended.
    @discardableResult
    public func finish(id: Int64, outcome: RunOutcome, finished: Date, summary: String, steps: [StepResult]) throws -> Bool {
        let bytes = steps.reduce(0.0) { total, step in
            total + step.figures.filter { $0.key.hasPrefix("bytes_") && $0.key != "bytes_total" }.values.reduce(0, +)
        }
        let json = String(decoding: try JSONEncoder().encode(steps), as: UTF8.self)
        return try db.transaction {
            guard try db.query("SELECT outcome FROM runs WHERE id = ?", [.integer(id)]).first?[0].text == RunOutcome.running.rawValue else {
                return false
            }
            try db.run(
                "UPDATE runs SET outcome = ?, finished = ?, summary = ?, bytes = ?, steps = ? WHERE id = ?",
                [.text(outcome.rawValue), .real(finished.timeIntervalSince1970), .text(summary), .real(bytes), .text(json), .integer(id)])
            return true
        }
    }

    /// Records fire times that passed without a run, as one entry.
    public func recordMissed(job: String, fires: MissedFires, reason: String, at now: Date) throws {
        guard fires.count > 0 else { return }
        let id = try begin(
            job: job, trigger: .schedule, scheduledFor: fires.last, attempt: 0, started: now, dryRun: false,
            lockToken: "", summary: "")
        let count = fires.count == 1 ? "1 run (due \(iso(fires.first)))" : "\(fires.count) runs (due \(iso(fires.first)) … \(iso(fires.last)))"
        try db.run("UPDATE runs SET missed = ? WHERE id = ?", [.integer(Int64(fires.count)), .integer(id)])
        try finish(id: id, outcome: .missed, finished: now, summary: "\(count) missed: \(reason)", steps: [])
    }

    /// The run with id `id`, if the catalog holds it.
    public func run(id: Int64) throws -> RunRecord? {
        try records("WHERE id = ?", [.integer(id)]).first
    }

    /// Runs newest first, of one job or all.
    public func history(job: String? = nil, limit: Int = 50) throws -> [RunRecord] {
        if let job { return try records("WHERE job = ? ORDER BY id DESC LIMIT ?", [.text(job), .integer(Int64(limit))]) }
        return try records("ORDER BY id DESC LIMIT ?", [.integer(Int64(limit))])
    }

    /// Runs still marked running (their processes may have died).
    public func runningRuns(job: String? = nil) throws -> [RunRecord] {
        if let job { return try records("WHERE outcome = 'running' AND job = ? ORDER BY id", [.text(job)]) }
        return try records("WHERE outcome = 'running' ORDER BY id", [])
    }

    /// The job's latest run that is not a dry run or a missed entry.
    public func lastRun(job: String) throws -> RunRecord? {
        try records("WHERE job = ? AND dry_run = 0 AND outcome != 'missed' ORDER BY id DESC LIMIT 1", [.text(job)]).first
    }

    /// The job's latest successful real run.
    public func lastSuccess(job: String) throws -> RunRecord? {
        try records("WHERE job = ? AND dry_run = 0 AND outcome IN ('succeeded', 'warned') ORDER BY id DESC LIMIT 1", [.text(job)]).first
    }

    /// Every job name with a run on record.
    public func jobNames() throws -> [String] {
        try db.query("SELECT DISTINCT job FROM runs ORDER BY job").compactMap { $0[0].text }
    }

    /// Keeps the newest `keep` ended runs of each job; running ones are never pruned.
    @discardableResult
    public func prune(keep: Int) throws -> Int {
        try db.transaction {
            try db.run(
                """
                DELETE FROM runs WHERE outcome != 'running' AND id IN (
                  SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM runs) WHERE n > ?)
                """, [.integer(Int64(keep))])
            return Int(try db.query("SELECT changes()")[0][0].int ?? 0)
        }
    }

    func records(_ clause: String, _ values: [SQLiteValue]) throws -> [RunRecord] {
        let rows = try db.query(
            """
            SELECT id, job, trigger, scheduled_for, attempt, started, finished, outcome, dry_run, host, pid, user,
                   summary, bytes, lock_token, steps FROM runs \(clause)
            """, values)
        return rows.map { r in
            RunRecord(
                id: r[0].int ?? 0, job: r[1].text ?? "", trigger: RunTrigger(rawValue: r[2].text ?? "") ?? .manual,
                scheduledFor: r[3].double.map(Date.init(timeIntervalSince1970:)), attempt: Int(r[4].int ?? 0),
                started: Date(timeIntervalSince1970: r[5].double ?? 0), finished: r[6].double.map(Date.init(timeIntervalSince1970:)),
                outcome: RunOutcome(rawValue: r[7].text ?? "") ?? .failed, dryRun: r[8].int == 1, host: r[9].text ?? "",
                pid: Int32(r[10].int ?? 0), user: r[11].text ?? "", summary: r[12].text ?? "", bytes: r[13].double ?? 0,
                lockToken: r[14].text ?? "",
                steps: (try? JSONDecoder().decode([StepResult].self, from: Data((r[15].text ?? "[]").utf8))) ?? [])
        }
    }

    // MARK: Schedule state

    /// What the scheduler remembers about `job`; nil until a tick first tracks it.
    public func state(job: String) throws -> JobScheduleState? {
        guard let r = try db.query("SELECT handled_fire, retry_at, retry_attempt, retry_fire FROM job_state WHERE job = ?", [.text(job)]).first else {
            return nil
        }
        return JobScheduleState(
            handledFire: Date(timeIntervalSince1970: r[0].double ?? 0),
            retryAt: r[1].double.map(Date.init(timeIntervalSince1970:)), retryAttempt: Int(r[2].int ?? 0),
            retryFire: r[3].double.map(Date.init(timeIntervalSince1970:)))
    }

    /// Starts tracking a job: fire times at or before `now` are not run (as cron would not run them).
    @discardableResult
    public func startTracking(job: String, now: Date) throws -> Bool {
        try db.transaction {
            try db.run("INSERT OR IGNORE INTO job_state(job, handled_fire) VALUES(?, ?)", [.text(job), .real(now.timeIntervalSince1970)])
            return (try db.query("SELECT changes()")[0][0].int ?? 0) == 1
        }
    }

    /// Claims a fire time for one run: true for exactly one of any number of concurrent callers.
    /// A claim clears a pending retry of an older fire time (the new run supersedes it).
    public func claim(job: String, fire: Date) throws -> Bool {
        try db.transaction {
            let handled = try db.query("SELECT handled_fire FROM job_state WHERE job = ?", [.text(job)]).first?[0].double
            if let handled, handled >= fire.timeIntervalSince1970 { return false }
            try db.run(
                """
                INSERT INTO job_state(job, handled_fire) VALUES(?, ?)
                ON CONFLICT(job) DO UPDATE SET handled_fire = excluded.handled_fire, retry_at = NULL, retry_attempt = 0, retry_fire = NULL
                """, [.text(job), .real(fire.timeIntervalSince1970)])
            return true
        }
    }

    /// Takes the pending retry `attempt`: true for exactly one caller.
    public func takeRetry(job: String, attempt: Int) throws -> Bool {
        try db.transaction {
            guard let r = try db.query("SELECT retry_attempt FROM job_state WHERE job = ? AND retry_at IS NOT NULL", [.text(job)]).first,
                r[0].int == Int64(attempt)
            else { return false }
            try db.run("UPDATE job_state SET retry_at = NULL WHERE job = ?", [.text(job)])
            return true
        }
    }

    /// Schedules retry `attempt` of the run for `fire` at `at`, or clears retries (`at` nil).
    public func scheduleRetry(job: String, attempt: Int, fire: Date?, at: Date?) throws {
        try db.run(
            "UPDATE job_state SET retry_at = ?, retry_attempt = ?, retry_fire = ? WHERE job = ?",
            [
                at.map { .real($0.timeIntervalSince1970) } ?? .null, .integer(Int64(at == nil ? 0 : attempt)),
                fire.map { .real($0.timeIntervalSince1970) } ?? .null, .text(job),
            ])
    }
}

/// Fire times that passed without a run, as a count and a span.
public struct MissedFires: Sendable, Equatable {
    /// How many fire times.
    public let count: Int
    /// The earliest.
    public let first: Date
    /// The latest.
    public let last: Date
    /// A span with the given parts.
    public init(count: Int, first: Date, last: Date) { self.count = count; self.first = first; self.last = last }
    /// The span of `fires` (in order); nil when there are none.
    public init?(_ fires: [Date]) {
        guard let f = fires.first, let l = fires.last else { return nil }
        self.init(count: fires.count, first: f, last: l)
    }
}

/// Who is running leafguard, for run records and lock files.
public struct Identity: Sendable {
    /// The host name.
    public let host: String
    /// This process's id.
    public let pid: Int32
    /// The user name the process runs as.
    public let user: String

    /// This process's identity.
    public static var current: Identity {
        Identity(host: ProcessInfo.processInfo.hostName, pid: getpid(), user: ProcessInfo.processInfo.userName)
    }
}
