import Foundation
import LeafConcurrency
import LeafConfig
import LeafTime
import Logging

/// One run a tick decided to start, as the tick hands it to the run: which job, why, for
/// which fire time, and the tick's instant (which the run takes as its own `now`, so that a
/// tick at an injected time runs its jobs at that time). Codable: a process launcher sends
/// it to `leafguard run JOB --scheduled` as JSON on standard input.
public struct ScheduledRun: Sendable, Codable, Equatable {
    /// The job's name.
    public var job: String
    /// Why it runs.
    public var trigger: RunTrigger
    /// The fire time it answers.
    public var scheduledFor: Date?
    /// 1 for the first attempt, 2 for the first retry, …
    public var attempt: Int
    /// Earlier fire times this run stands in for (count, first, last).
    public var missedCount: Int
    /// The earliest of them.
    public var missedFirst: Date?
    /// The latest of them.
    public var missedLast: Date?
    /// The tick's instant, which the run takes as its own.
    public var now: Date

    /// The run of `job` that `planned` describes, for a tick at `now`.
    public init(job: String, planned: PlannedRun, now: Date) {
        self.job = job; trigger = planned.trigger; scheduledFor = planned.scheduledFor; attempt = planned.attempt
        missedCount = planned.missed.count; missedFirst = planned.missed.first; missedLast = planned.missed.last
        self.now = now
    }

    /// The fire times this run stands in for; nil when none.
    public var missed: MissedFires? {
        guard missedCount > 0, let missedFirst, let missedLast else { return nil }
        return MissedFires(count: missedCount, first: missedFirst, last: missedLast)
    }

    /// The supervisor's request for this run of `job` (whose name is `self.job`).
    public func request(for job: JobDefinition) -> RunRequest {
        RunRequest(job: job, trigger: trigger, scheduledFor: scheduledFor, attempt: attempt, missed: missed)
    }

    /// The wire form: JSON, dates as seconds (exact, so a claimed fire time compares equal).
    public func encoded() throws -> Data { try JSONEncoder().encode(self) }

    /// Reads the wire form; at most 64 KiB, as a tick writes far less.
    public static func decode(_ data: Data) throws -> ScheduledRun {
        guard data.count <= 65_536 else { throw SchedulerError("the scheduled run on standard input is larger than 64 KiB") }
        do { return try JSONDecoder().decode(ScheduledRun.self, from: data) } catch {
            throw SchedulerError("the scheduled run on standard input is not one a tick writes: \(error)")
        }
    }
}

/// Starts runs for a tick. In production each run is its own `leafguard run` process
/// (ProcessRunLauncher); tests run them in this process (SupervisorRunLauncher).
public protocol RunLauncher: Sendable {
    /// Runs `run` and waits for it; returns its exit status as `leafguard run` documents it
    /// (0 succeeded, 1 failed, 3 warned, 75 busy, 124 timed out).
    func launch(_ run: ScheduledRun) -> Int32
}

/// What a tick did, for the command to print and turn into an exit status.
public struct TickReport: Sendable {
    /// One thing a tick did.
    public enum Event: Sendable, Equatable {
        /// A run whose process died unfinished, now recorded as interrupted.
        case interrupted(RunRecord)
        /// Fire times recorded as missed, not run.
        case missed(job: String, count: Int, reason: String)
        /// A run started and ended with this exit status.
        case finished(job: String, status: Int32)
    }
    /// What the tick did, in order.
    public var events: [Event] = []
    /// Job files in error: their jobs did not run.
    public var brokenJobFiles: [ConfigProblem] = []

    /// Runs that failed (any status but 0, 3 and 75: warned did its work, busy is left due).
    public var failures: Int {
        events.filter {
            if case .finished(_, let s) = $0 { return s != 0 && s != 3 && s != 75 }; return false
        }.count
    }

    /// Runs that did their work with warnings (exit status 3).
    public var warnings: Int {
        events.filter {
            if case .finished(_, 3) = $0 { return true }; return false
        }.count
    }
}

/// The scheduler: what `leafguard tick` does every minute, as a library call. Each tick
/// reaps dead runs, decides per job (SchedulePlanner) whether a fire time, a retry or an
/// `after` dependency is due, starts every due job at once through the launcher, and goes
/// round again so that a job waiting for another runs in the same tick once that one has
/// succeeded; then rewrites the metrics file.
public struct Scheduler: Sendable {
    /// The configuration whose jobs it schedules.
    public let config: LeafguardConfig
    /// Where ticks log.
    public let logger: Logger
    /// How it starts runs.
    public let launcher: any RunLauncher

    /// A scheduler of `config`'s jobs starting runs through `launcher`.
    public init(config: LeafguardConfig, logger: Logger, launcher: any RunLauncher) {
        self.config = config; self.logger = logger; self.launcher = launcher
    }

    /// One tick at `now`; time runs on from there while the tick's runs take their time (a
    /// clock shifted to `now`), so a drill at an injected date behaves as a real tick would.
    public func tick(now: Date) throws -> TickReport {
        let clock = Clock(now: now)
        RunSupervisor.recordTick(config.state, at: now)
        var report = TickReport()
        // One broken job file stops only its own job: every valid one still runs.
        let (valid, broken) = try JobLoader(config: config).loadValid()
        report.brokenJobFiles = broken
        for p in broken {
            logger.error("job file in error; its job does not run", metadata: ["file": "\(p.file)", "problem": "\(p.description)"])
        }
        let jobs = SchedulePlanner.dependencyOrder(valid)
        let supervisor = RunSupervisor(config: config, logger: logger, clock: clock)
        let catalog = try RunCatalog(stateDirectory: config.stateDirectory)
        for run in try supervisor.reapDeadRuns(catalog) { report.events.append(.interrupted(run)) }

        var handled = Set<String>()
        // Passes: a job that waits for another can start once that one has run in this tick.
        for _ in 0...jobs.count {
            var starts: [ScheduledRun] = []
            let now = clock.now
            for job in jobs where !handled.contains(job.name) {
                var successes: [String: Date] = [:]
                for dependency in job.policy.after { successes[dependency] = try catalog.lastSuccess(job: dependency)?.started }
                switch SchedulePlanner.decide(job: job, state: try catalog.state(job: job.name), now: now, successes: successes) {
                case .idle:
                    break
                case .startTracking:
                    try catalog.startTracking(job: job.name, now: now)
                    handled.insert(job.name)
                case .waiting(let why):
                    logger.info("job waits", metadata: ["job": "\(job.name)", "why": "\(why)"])
                case .missed(let fires, let reason):
                    if let last = fires.last, let missed = MissedFires(fires), try catalog.claim(job: job.name, fire: last) {
                        try catalog.recordMissed(job: job.name, fires: missed, reason: reason, at: now)
                        report.events.append(.missed(job: job.name, count: fires.count, reason: reason))
                    }
                    handled.insert(job.name)
                case .run(let planned):
                    starts.append(ScheduledRun(job: job.name, planned: planned, now: now))
                    handled.insert(job.name)
                }
            }
            if starts.isEmpty { break }
            // Every due job at once; this waits for all of them.
            let batch = starts
            let finished = Locked<[(String, Int32)]>([])
            parallelForEach(batch.count, width: batch.count) { i in
                let status = launcher.launch(batch[i])
                finished.withLock { $0.append((batch[i].job, status)) }
            }
            for (name, status) in finished.value.sorted(by: { $0.0 < $1.0 }) {
                report.events.append(.finished(job: name, status: status))
            }
        }
        let end = clock.now
        var overdue: [String: Bool] = [:]
        for job in jobs where job.schedule != nil {
            overdue[job.name] = SchedulePlanner.overdue(job: job, state: try catalog.state(job: job.name), now: end) != nil
        }
        supervisor.writeMetrics(
            jobs: jobs.map(\.name),
            health: .init(lastTick: end, overdue: overdue, brokenJobFiles: broken.count))
        return report
    }
}

extension SupervisedOutcome {
    /// The exit status `leafguard run` gives for this outcome.
    public var exitStatus: Int32 {
        switch self {
        case .ran(_, let result): return !result.succeeded ? 1 : (result.warned ? 3 : 0)
        case .busy: return 75
        case .alreadyClaimed: return 0
        }
    }
}

/// Each run its own `leafguard run JOB --scheduled` process, the ScheduledRun on its
/// standard input; its output and error are the tick's, its environment the tick's.
public struct ProcessRunLauncher: RunLauncher {
    /// The leafguard binary each run starts.
    public let executable: String
    /// Options every run gets (configuration file, log format and level).
    public let options: [String]

    /// A launcher of `executable` with `options`.
    public init(executable: String, options: [String]) { self.executable = executable; self.options = options }

    /// Starts `leafguard run JOB --scheduled`, hands it `run` on standard input and returns its exit status (1 when it cannot start).
    public func launch(_ run: ScheduledRun) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run", run.job, "--scheduled"] + options
        let input = Pipe()
        process.standardInput = input
        do {
            let request = try run.encoded()
            try process.run()
            // A few hundred bytes: far below a pipe's buffer, so this cannot block on the child.
            try input.fileHandleForWriting.write(contentsOf: request)
            try input.fileHandleForWriting.close()
        } catch {
            FileHandle.standardError.write(Data("error: cannot start a run of \(run.job): \(error)\n".utf8))
            if process.isRunning { process.terminate() }
            return 1
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Runs in this process, through the same RunSupervisor a `leafguard run` uses: for tests
/// and drills where the process boundary is not the point. The run does not own the
/// process: no signal handlers, and a job's timeout is not enforced.
public struct SupervisorRunLauncher: RunLauncher {
    /// The configuration runs are under.
    public let config: LeafguardConfig
    /// Where runs log.
    public let logger: Logger

    /// A launcher running `config`'s jobs in this process.
    public init(config: LeafguardConfig, logger: Logger) { self.config = config; self.logger = logger }

    /// Runs `run` through a RunSupervisor in this process and returns the exit status `leafguard run` would (2 when no valid job has that name).
    public func launch(_ run: ScheduledRun) -> Int32 {
        do {
            guard let job = try JobLoader(config: config).loadValid().jobs.first(where: { $0.name == run.job }) else { return 2 }
            let supervisor = RunSupervisor(config: config, logger: logger, clock: Clock(now: run.now), ownsTheProcess: false)
            return try supervisor.execute(run.request(for: job)).exitStatus
        } catch {
            logger.error("run could not start", metadata: ["job": "\(run.job)", "error": "\(error)"])
            return 1
        }
    }
}
