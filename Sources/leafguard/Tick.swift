import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs
import LeafScheduler
import LeafTime

extension Leafguard {
    /// `leafguard tick [--now T]`: what cron, a systemd timer or a Kubernetes CronJob calls
    /// every minute.
    struct Tick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every job that has come due since its last run (call this every minute).",
            discussion: """
                Each due job runs as its own 'leafguard run' process, under the job's lock, so overlapping \
                ticks and hosts sharing the state folder never start one fire time twice. Jobs with 'after:' \
                run in the same tick once their dependencies have succeeded. Exit status: 0 when every run \
                started succeeded (or nothing was due), 1 when one failed, 2 bad configuration.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "Act as if it were this instant (ISO 8601), for drills and tests.")
        var now: String?

        func validate() throws {
            if let now, parseInstant(now) == nil { throw ValidationError("--now '\(now)' is not ISO 8601, e.g. 2026-03-29T02:30:00Z") }
        }

        func run() async throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let clock = Clock(now: now.flatMap(parseInstant))
            RunSupervisor.recordTick(stateDirectory: config.stateDirectory, at: clock.now)
            // One broken job file stops only its own job: every valid one still runs.
            let (valid, broken) = try JobLoader(config: config).loadValid()
            for p in broken {
                logger.error("job file in error; its job does not run", metadata: ["file": "\(p.file)", "problem": "\(p.description)"])
                printError("error: \(p)")
            }
            let jobs = SchedulePlanner.dependencyOrder(valid)
            let supervisor = RunSupervisor(config: config, logger: logger, clock: clock)
            let catalog = try RunCatalog(stateDirectory: config.stateDirectory)
            for run in try supervisor.reapDeadRuns(catalog) {
                print("\(run.job): run \(run.id) (pid \(run.pid) on \(run.host)) died without finishing; recorded as interrupted")
            }

            var handled = Set<String>()
            var failures = 0
            // Passes: a job that waits for another can start once that one has run in this tick.
            for _ in 0...jobs.count {
                var starts: [(JobDefinition, PlannedRun)] = []
                for job in jobs where !handled.contains(job.name) {
                    var successes: [String: Date] = [:]
                    for dependency in job.policy.after { successes[dependency] = try catalog.lastSuccess(job: dependency)?.started }
                    let decision = SchedulePlanner.decide(job: job, state: try catalog.state(job: job.name), now: clock.now, successes: successes)
                    switch decision {
                    case .idle:
                        break
                    case .startTracking:
                        try catalog.startTracking(job: job.name, now: clock.now)
                        handled.insert(job.name)
                    case .waiting(let why):
                        logger.info("job waits", metadata: ["job": "\(job.name)", "why": "\(why)"])
                    case .missed(let fires, let reason):
                        if try catalog.claim(job: job.name, fire: fires.last!) {
                            try catalog.recordMissed(job: job.name, fires: MissedFires(fires)!, reason: reason, at: clock.now)
                            print("\(job.name): \(fires.count) run\(fires.count == 1 ? "" : "s") missed (\(reason))")
                        }
                        handled.insert(job.name)
                    case .run(let planned):
                        starts.append((job, planned))
                        handled.insert(job.name)
                    }
                }
                if starts.isEmpty { break }
                let statuses = await withTaskGroup(of: (String, Int32).self) { group in
                    for (job, planned) in starts {
                        group.addTask { (job.name, spawnRun(job: job.name, planned: planned, clock: clock)) }
                    }
                    var out: [(String, Int32)] = []
                    for await s in group { out.append(s) }
                    return out
                }
                for (name, status) in statuses.sorted(by: { $0.0 < $1.0 }) {
                    switch status {
                    case 0: break
                    case 75: print("\(name): still running from an earlier start; left due (concurrency: forbid)")
                    default: failures += 1
                    }
                }
            }
            var overdue: [String: Bool] = [:]
            for job in jobs where job.schedule != nil {
                overdue[job.name] = SchedulePlanner.overdue(job: job, state: try catalog.state(job: job.name), now: clock.now) != nil
            }
            supervisor.writeMetrics(catalog: catalog, jobs: jobs.map(\.name),
                                    health: .init(lastTick: clock.now, overdue: overdue, brokenJobFiles: broken.count))
            if !broken.isEmpty { throw ExitCode(2) }
            if failures > 0 { throw ExitCode(1) }
        }

        /// Starts `leafguard run` for one job and waits for it; returns its exit status.
        func spawnRun(job: String, planned: PlannedRun, clock: Clock) -> Int32 {
            var arguments = ["run", job, "--trigger", planned.trigger.rawValue, "--attempt", "\(planned.attempt)",
                             "--log-format", global.logFormat, "--log-level", global.logLevel,
                             "--now", isoFractional(clock.now)]
            if let config = global.config { arguments += ["--config", absolute(config, relativeTo: FileManager.default.currentDirectoryPath)] }
            if let fire = planned.scheduledFor { arguments += ["--scheduled-for", isoFractional(fire)] }
            if let m = MissedFires(planned.missed) {
                arguments += ["--missed", "\(m.count)", "--missed-first", isoFractional(m.first), "--missed-last", isoFractional(m.last)]
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.executablePath)
            process.arguments = arguments
            do { try process.run() } catch {
                printError("error: cannot start a run of \(job): \(error)")
                return 1
            }
            process.waitUntilExit()
            return process.terminationStatus
        }

        static var executablePath: String {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        }
    }
}
