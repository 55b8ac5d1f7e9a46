import Foundation
import LeafAudit
import LeafConcurrency
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafTime
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One run to supervise: which job, why, and for which fire time.
public struct RunRequest: Sendable {
    /// The job to run.
    public var job: JobDefinition
    /// Why it runs.
    public var trigger: RunTrigger
    /// The fire time it answers; nil for a run started by hand.
    public var scheduledFor: Date?
    /// 1 for the first attempt, 2 for the first retry, …
    public var attempt: Int
    /// Whether the run only says what it would do.
    public var dryRun: Bool
    /// Fire times this run stands in for, recorded as missed when it starts.
    public var missed: MissedFires?

    /// A request; by default a manual first attempt that does the work.
    public init(
        job: JobDefinition, trigger: RunTrigger = .manual, scheduledFor: Date? = nil, attempt: Int = 1,
        dryRun: Bool = false, missed: MissedFires? = nil
    ) {
        self.job = job; self.trigger = trigger; self.scheduledFor = scheduledFor
        self.attempt = attempt; self.dryRun = dryRun; self.missed = missed
    }
}

/// What became of a request.
public enum SupervisedOutcome: Sendable {
    case ran(RunRecord, JobRunResult)
    /// Another run of the job holds its lock (`concurrency: forbid`).
    case busy(LockHolder?)
    /// Another process already started a run for this fire time or retry.
    case alreadyClaimed
}

/// Runs a job the way every run is run — by a tick, a person, a systemd unit or a
/// Kubernetes pod: under the job's lock, recorded in the catalog, stopped at its timeout,
/// with retries scheduled, hooks called and the metrics file rewritten.
public struct RunSupervisor: Sendable {
    /// The configuration the run is under.
    public let config: LeafguardConfig
    /// Where the run logs.
    public let logger: Logger
    /// The time the run records and its steps see.
    public let clock: Clock
    /// Where steps draw their progress line.
    public let progress: LeafJobs.Progress
    /// Whether the run owns its process (`leafguard run`): then SIGINT and SIGTERM stop it
    /// with its record written, and its timeout ends the process. A run inside another
    /// program (a test, SupervisorRunLauncher) owns neither the signals nor the process, so
    /// it installs no handler and no watchdog: its job's timeout is not enforced.
    public let ownsTheProcess: Bool
    /// The one deployment of the run: its steps and its audit trail share the derived key
    /// and the keyring.
    public let deployment: Deployment

    /// A supervisor; it opens the run's one Deployment of `config` on `clock`.
    public init(
        config: LeafguardConfig, logger: Logger, clock: Clock = Clock(), progress: LeafJobs.Progress = LeafJobs.Progress(),
        ownsTheProcess: Bool = true
    ) {
        self.config = config; self.logger = logger; self.clock = clock; self.progress = progress
        self.ownsTheProcess = ownsTheProcess
        deployment = Deployment(config: config, clock: clock)
    }

    var audit: AuditTrail { AuditTrail(deployment: deployment, logger: logger) }

    var locksDirectory: String { config.state.locks }
    func jobLockPath(_ job: String) -> String { locksDirectory + "/job-\(job).lock" }
    func runLockPath(_ token: String) -> String { locksDirectory + "/runs/\(token).lock" }

    /// Marks runs whose process is gone as interrupted: a run's lock file is locked for as
    /// long as its process lives, so a lock that can be taken has a dead holder.
    @discardableResult
    public func reapDeadRuns(_ catalog: RunCatalog, job: String? = nil) throws -> [RunRecord] {
        var reaped: [RunRecord] = []
        for run in try catalog.runningRuns(job: job) where !run.lockToken.isEmpty {
            let lock = FileLock(path: runLockPath(run.lockToken))
            guard try lock.tryLock() else { continue }
            if try catalog.finish(
                id: run.id, outcome: .interrupted, finished: clock.now,
                summary: "process \(run.pid) on \(run.host) ended without finishing (killed, crashed or host lost)", steps: run.steps)
            {
                reaped.append(run)
                audit.record(
                    AuditEntry(
                        action: "job.end", command: "run", job: run.job, objects: ["run \(run.id)"], outcome: RunOutcome.interrupted.rawValue,
                        detail: "process \(run.pid) on \(run.host) ended without finishing", at: clock.now))
                logger.warning("run found interrupted", metadata: ["job": "\(run.job)", "run": "\(run.id)", "pid": "\(run.pid)", "host": "\(run.host)"])
            }
            lock.release(remove: true)
        }
        return reaped
    }

    /// Runs `request` under its job's lock, recorded in the catalog and the audit log, then calls the hooks and rewrites the metrics file. Returns `busy` or `alreadyClaimed` without running when another process has the job or the fire time.
    public func execute(_ request: RunRequest) throws -> SupervisedOutcome {
        let job = request.job
        let catalog = try RunCatalog(stateDirectory: config.stateDirectory)
        try reapDeadRuns(catalog, job: job.name)

        // 1. The job's lock, by its concurrency policy.
        let jobLock = FileLock(path: jobLockPath(job.name))
        switch job.policy.concurrency {
        case .allow:
            break
        case .forbid:
            guard try jobLock.tryLock() else { return .busy(FileLock.holder(at: jobLock.path)) }
        case .replace:
            if try !jobLock.tryLock() { try replaceHolder(of: jobLock, catalog: catalog) }
        }
        let me = Identity.current
        // Name the holder at once (run 0 until the run is recorded) so that a refused run can say who holds the job.
        if job.policy.concurrency != .allow { jobLock.writeHolder(LockHolder(host: me.host, pid: me.pid, runID: 0, started: clock.now)) }

        // 2. The fire time or retry, claimed once however many ticks race for it.
        // Never unaudited: a log that cannot be appended to stops the run before it claims
        // or does anything (a torn last line from a crash is repaired, and that recorded).
        if !request.dryRun { try audit.ensureAppendable() }
        if !request.dryRun {
            switch request.trigger {
            case .schedule, .catchUp, .after:
                guard let fire = request.scheduledFor, try catalog.claim(job: job.name, fire: fire) else { return .alreadyClaimed }
                if let missed = request.missed {
                    try catalog.recordMissed(job: job.name, fires: missed, reason: "no tick ran then; caught up by one run for \(iso(fire))", at: clock.now)
                }
            case .retry:
                guard try catalog.takeRetry(job: job.name, attempt: request.attempt) else { return .alreadyClaimed }
            case .manual:
                break
            }
        }

        // 3. The run's own lock, held until this process ends, then the record. The signal
        // handlers are in place before the record is written, and the record and its id are
        // one step for them: a SIGTERM at any instant after the run is recorded finds it and
        // records it `interrupted` (one before it ends the process with nothing recorded).
        let token = randomToken()
        let runLock = FileLock(path: runLockPath(token))
        guard try runLock.tryLock() else { throw SchedulerError("cannot lock \(runLock.path)") }
        let started = clock.now
        let ending = EndOnce()
        let recorded = Locked<Int64?>(nil)
        if ownsTheProcess && !request.dryRun { startSignalHandlers(request: request, recorded: recorded, ending: ending, logger: logger) }
        let id = try recorded.withLock { id in
            let new = try catalog.begin(
                job: job.name, trigger: request.trigger, scheduledFor: request.scheduledFor,
                attempt: request.attempt, started: started, dryRun: request.dryRun, lockToken: token)
            id = new
            return new
        }
        #if DEBUG
            // Debug builds only: hold a run right after it is recorded, before anything else,
            // so a test can signal it at that instant (RunSignalTests).
            if let marker = ProcessInfo.processInfo.environment["LEAFGUARD_STALL_AFTER_RECORD"] {
                FileManager.default.createFile(atPath: marker, contents: Data("\(id)\n".utf8))
                while true { usleep(10_000) }
            }
        #endif
        if job.policy.concurrency != .allow {
            jobLock.writeHolder(LockHolder(host: me.host, pid: me.pid, runID: id, started: started))
        }
        var log = logger
        log[metadataKey: "run"] = "\(id)"
        log.info("run started", metadata: ["job": "\(job.name)", "trigger": "\(request.trigger.rawValue)", "attempt": "\(request.attempt)"])

        audit.record(
            AuditEntry(
                action: "job.start", command: "run", job: job.name, objects: ["run \(id)"], outcome: "started",
                detail: "trigger \(request.trigger.rawValue), attempt \(request.attempt)\(request.dryRun ? ", dry run" : "")", at: started))
        if ownsTheProcess, let timeout = job.policy.timeout {
            startWatchdog(timeout: timeout, request: request, runID: id, ending: ending, logger: log)
        }
        let result = JobRunner(config: config, logger: log, progress: progress, deployment: deployment).run(job, dryRun: request.dryRun, now: started)
        guard ending.claim() else {
            // The watchdog is ending the process; wait for it.
            while true { sleep(60) }
        }
        let outcome = result.outcome
        try catalog.finish(id: id, outcome: outcome, finished: clock.now, summary: Self.summary(of: result), steps: result.steps)
        for step in result.steps {
            audit.record(
                AuditEntry(
                    action: "step", command: "run", job: job.name, step: step.step, objects: ["run \(id)"] + step.details.prefix(20),
                    outcome: step.status.rawValue, detail: step.summary, at: clock.now))
        }
        audit.record(
            AuditEntry(
                action: "job.end", command: "run", job: job.name, objects: ["run \(id)"], outcome: outcome.rawValue,
                detail: Self.summary(of: result), at: clock.now))
        afterRun(catalog: catalog, request: request, runID: id, outcome: outcome, logger: log)
        runLock.release(remove: true)
        jobLock.release()
        guard let record = try catalog.run(id: id) else { throw SchedulerError("run \(id) vanished from \(catalog.path)") }
        return .ran(record, result)
    }

    /// Stops the run holding `lock` (on this host) and takes the lock.
    func replaceHolder(of lock: FileLock, catalog: RunCatalog) throws {
        let holder = FileLock.holder(at: lock.path)
        guard let holder, holder.host == Identity.current.host else {
            throw SchedulerError("cannot replace the running \(holder?.description ?? "run"): it runs on another host; stop it there")
        }
        logger.warning("replacing a running run", metadata: ["run": "\(holder.runID)", "pid": "\(holder.pid)"])
        for (signal, wait) in [(SIGTERM, 20.0), (SIGKILL, 10.0)] {
            kill(holder.pid, signal)
            let deadline = Date().addingTimeInterval(wait)
            while Date() < deadline {
                if try lock.tryLock() {
                    audit.record(
                        AuditEntry(
                            action: "job.end", command: "run", job: nil, objects: ["run \(holder.runID)"], outcome: RunOutcome.replaced.rawValue,
                            detail: "stopped by a newer run (concurrency: replace)", at: clock.now))
                    try catalog.finish(
                        id: holder.runID, outcome: .replaced, finished: clock.now,
                        summary: "stopped by a newer run (concurrency: replace)", steps: catalog.run(id: holder.runID)?.steps ?? [])
                    return
                }
                usleep(50_000)
            }
        }
        throw SchedulerError("the running \(holder.description) did not stop; its lock \(lock.path) is still held")
    }

    /// Ends the whole process when the job outlives its timeout: steps cannot be cancelled
    /// half-way, and everything they write is crash-safe (an interrupted backup is resumed
    /// or cleaned up by the next one).
    func startWatchdog(timeout: TimeInterval, request: RunRequest, runID: Int64, ending: EndOnce, logger: Logger) {
        // A timer on a serial queue of its own: such queues get a thread of their own when
        // they fire (libdispatch's overcommit pool), however busy the steps keep the cores.
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "leafguard.watchdog"))
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { [self] in
            guard ending.claim() else { return }
            logger.error("run timed out", metadata: ["timeout": "\(duration(timeout))"])
            if let catalog = try? RunCatalog(stateDirectory: config.stateDirectory) {
                let steps = (try? catalog.run(id: runID))?.steps ?? []
                _ = try? catalog.finish(
                    id: runID, outcome: .timedOut, finished: clock.now,
                    summary: "stopped after its timeout of \(duration(timeout))", steps: steps)
                audit.record(
                    AuditEntry(
                        action: "job.end", command: "run", job: request.job.name, objects: ["run \(runID)"],
                        outcome: RunOutcome.timedOut.rawValue, detail: "stopped after its timeout of \(duration(timeout))", at: clock.now))
                afterRun(catalog: catalog, request: request, runID: runID, outcome: .timedOut, logger: logger)
            }
            FileHandle.standardError.write(Data("error: job \(request.job.name) timed out after \(duration(timeout)); stopped\n".utf8))
            _exit(124)
        }
        timer.resume()
        Self.keepForTheRun(timer)
    }

    /// SIGINT and SIGTERM (Ctrl-C, `systemctl stop`, a pod's end) stop a run with its record
    /// written: `interrupted` in the history and the audit log at once, on_failure hooks
    /// fired, one line saying what the next run reuses; then the process ends (130 or 143).
    /// Everything a step writes is crash-safe, so any instant is a safe point. A second
    /// signal while this happens ends the process at once.
    /// `recorded` holds the run's id once it is recorded; the handler waits for a recording
    /// under way, and ends the process with nothing to record before it.
    func startSignalHandlers(request: RunRequest, recorded: Locked<Int64?>, ending: EndOnce, logger: Logger) {
        for sig in [SIGINT, SIGTERM] {
            // Ignored first, so that the default action cannot end the process before the
            // source is listening (libdispatch on Linux reads signals the kernel would
            // otherwise act on).
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                // From here on a second signal is not caught: it ends the process.
                signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL)
                guard ending.claim() else { return }
                guard let runID = recorded.value else { _exit(128 + sig) }
                let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
                let summary = "stopped by \(name); what it stored stays consistent, and the next run reuses the data already written"
                if let catalog = try? RunCatalog(stateDirectory: config.stateDirectory) {
                    let steps = (try? catalog.run(id: runID))?.steps ?? []
                    _ = try? catalog.finish(id: runID, outcome: .interrupted, finished: clock.now, summary: summary, steps: steps)
                    audit.record(
                        AuditEntry(
                            action: "job.end", command: "run", job: request.job.name, objects: ["run \(runID)"],
                            outcome: RunOutcome.interrupted.rawValue, detail: summary, at: clock.now))
                    FileHandle.standardError.write(Data("interrupted: job \(request.job.name) run \(runID) \(summary)\n".utf8))
                    afterRun(catalog: catalog, request: request, runID: runID, outcome: .interrupted, logger: logger)
                }
                _exit(128 + sig)
            }
            source.resume()
            Self.keepForTheRun(source)
        }
    }

    /// The watchdog timer and signal sources of this process's run: a source that is
    /// released is cancelled, and these must live as long as the process.
    private static func keepForTheRun(_ source: any DispatchSourceProtocol) {
        _ = Unmanaged.passRetained(source as AnyObject)
    }

    /// Retries, history pruning, the metrics file and hooks: what follows every ended run.
    func afterRun(catalog: RunCatalog, request: RunRequest, runID: Int64, outcome: RunOutcome, logger: Logger) {
        let job = request.job
        if !request.dryRun && request.trigger != .manual {
            do {
                if outcome != .succeeded && outcome != .warned && request.attempt <= job.policy.retries {
                    let next = request.attempt + 1
                    let at = clock.now.addingTimeInterval(job.policy.backoff(beforeAttempt: next))
                    try catalog.scheduleRetry(job: job.name, attempt: next, fire: request.scheduledFor, at: at)
                    logger.warning("retry scheduled", metadata: ["attempt": "\(next)", "at": "\(iso(at))"])
                } else {
                    try catalog.scheduleRetry(job: job.name, attempt: 0, fire: nil, at: nil)
                }
            } catch { logger.error("cannot record the retry", metadata: ["error": "\(error)"]) }
        }
        if !request.dryRun { audit.checkpoint(at: clock.now) }
        do { try catalog.prune(keep: config.historyLimit) } catch { logger.warning("cannot prune history", metadata: ["error": "\(error)"]) }
        // What the run's steps opened is fresh: the regions' figures for the metrics file.
        if !request.dryRun { deployment.learnFacts(coverageDays: config.posture.verifyCoverageDays) }
        writeMetrics(jobs: [job.name])
        // on_success for a clean success (and for a warned run where a hook asks, `on: [success, warning]`),
        // on_warning for a warned one, on_failure for everything else.
        let hooks: [Hook]
        switch outcome {
        case .succeeded: hooks = job.onSuccess
        case .warned: hooks = job.onWarning + job.onSuccess.filter(\.alsoOnWarning)
        default: hooks = job.onFailure
        }
        if !hooks.isEmpty, !request.dryRun, let record = try? catalog.run(id: runID) {
            let summary = (try? RunSummary(record).json()) ?? Data()
            HookRunner(logger: logger).run(
                hooks, summary: summary,
                environment: [
                    "LEAFGUARD_JOB": job.name, "LEAFGUARD_RUN_ID": "\(runID)", "LEAFGUARD_OUTCOME": outcome.rawValue,
                ])
        }
    }

    /// Rewrites the Prometheus text file; a failure is logged, never fatal.
    /// `jobs` are added to the jobs the job files define now (those alone have series).
    public func writeMetrics(jobs: [String], health: MetricsFile.SchedulerHealth? = nil) {
        let health = health ?? MetricsFile.SchedulerHealth(lastTick: RunHistory(config.state).lastTick)
        let loaded = try? JobLoader(config: config).loadValid()
        let configured = loaded?.jobs.map(\.name) ?? []
        var drills: [String: (succeeded: Bool, seconds: Double, time: Date)] = [:]
        for d in DrillHistory(stateDirectory: config.stateDirectory).all() where drills[d.region].map({ $0.time <= d.time }) ?? true {
            drills[d.region] = (d.outcome == "succeeded", d.seconds, d.time)
        }
        let state = MetricsFile.DeploymentState(
            regions: config.regionNames, facts: MetricsFacts.read(config.state), drills: drills, configErrors: loaded?.problems.count ?? 1)
        do {
            try MetricsFile.write(
                history: RunHistory(config.state), jobs: configured + jobs, to: config.metricsFile, now: clock.now, health: health, deployment: state)
        } catch {
            logger.warning("cannot write the metrics file", metadata: ["file": "\(config.metricsFile)", "error": "\(error)"])
        }
    }

    /// Records `at` as the last tick's time, in Unix seconds (best effort: a tick that cannot
    /// write it still runs).
    public static func recordTick(_ layout: StateLayout, at: Date) {
        try? (MetricsFile.format(at.timeIntervalSince1970) + "\n").write(toFile: layout.tickFile, atomically: true, encoding: .utf8)
    }

    static func summary(of result: JobRunResult) -> String {
        let text: String
        if let failed = result.steps.first(where: { $0.status == .failed || $0.status == .unavailable }) {
            text = "\(failed.step): \(failed.summary)"
        } else {
            text = result.steps.map { "\($0.step): \($0.summary)" }.joined(separator: "; ")
        }
        return text.count > 400 ? String(text.prefix(399)) + "…" : text
    }

    func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}

/// Makes sure exactly one of the normal end and the timeout watchdog ends a run.
final class EndOnce: Sendable {
    private let taken = Locked(false)
    func claim() -> Bool {
        taken.withLock { taken in
            if taken { return false }
            taken = true
            return true
        }
    }
}

/// The JSON a hook receives and `history --json` prints: a run without its lock token.
public struct RunSummary: Codable, Sendable {
    /// The run's id.
    public let id: Int64
    /// The job's name.
    public let job: String
    /// Why it ran (`schedule`, `catch-up`, `retry`, `after`, `manual`).
    public let trigger: String
    /// The fire time it answered.
    public let scheduledFor: Date?
    /// Which attempt it was.
    public let attempt: Int
    /// When it started.
    public let started: Date
    /// When it ended.
    public let finished: Date?
    /// How long it took.
    public let seconds: Double?
    /// How it ended (`succeeded`, `warned`, `failed`, `timed-out`, …).
    public let outcome: String
    /// Whether it only said what it would do.
    public let dryRun: Bool
    /// The host it ran on.
    public let host: String
    /// The user it ran as.
    public let user: String
    /// One line about the run.
    public let summary: String
    /// Bytes it stored, copied or freed.
    public let bytes: Double
    /// Each step's result.
    public let steps: [StepResult]

    /// snake_case, as every JSON leafguard prints (docs/json.md's rule).
    enum CodingKeys: String, CodingKey {
        case id, job, trigger, attempt, started, finished, seconds, outcome, host, user, summary, bytes, steps
        case scheduledFor = "scheduled_for"
        case dryRun = "dry_run"
    }

    /// The summary of record `r`.
    public init(_ r: RunRecord) {
        id = r.id; job = r.job; trigger = r.trigger.rawValue; scheduledFor = r.scheduledFor; attempt = r.attempt
        started = r.started; finished = r.finished; seconds = r.seconds; outcome = r.outcome.rawValue; dryRun = r.dryRun
        host = r.host; user = r.user; summary = r.summary; bytes = r.bytes; steps = r.steps
    }

    /// The JSON form: sorted keys, ISO 8601 dates.
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return try e.encode(self)
    }
}
