import Foundation
import LeafConfig
import LeafDeployment
import Logging

/// The outcome of one job run.
public struct JobRunResult: Sendable, Codable {
    /// The job's name.
    public let job: String
    /// When the first step started, by the deployment's clock.
    public let started: Date
    /// When the last step ended.
    public let finished: Date
    /// Whether the run only said what it would do (`--dry-run`).
    public let dryRun: Bool
    /// Each step's result, in order; a job stopped by a failed step has no results for the steps after it.
    public let steps: [StepResult]
    /// True when every step succeeded or warned.
    public var succeeded: Bool { steps.allSatisfy { $0.status != .failed && $0.status != .unavailable } }
    /// True when every step ran and at least one warned: the outcome `warned`, exit status 3.
    public var warned: Bool { succeeded && steps.contains { $0.status == .warning } }
    /// True when nothing failed except steps this version cannot run yet.
    public var onlyUnavailable: Bool { !succeeded && steps.allSatisfy { $0.status != .failed } }
    /// How the run ended, as the history, hooks, metrics and exit status tell it.
    public var outcome: RunOutcome { warned ? .warned : (succeeded ? .succeeded : .failed) }
}

/// Runs a job's steps in order and stops at the first failed one.
public struct JobRunner: Sendable {
    /// The configuration the job runs under.
    public let config: LeafguardConfig
    /// Where steps log.
    public let logger: Logger
    /// Where steps draw their progress line.
    public let progress: Progress
    /// Handed to every step (StepContext.deployment).
    public let deployment: Deployment

    /// A runner over `deployment`, or over a new Deployment of `config` when none is given.
    public init(config: LeafguardConfig, logger: Logger, progress: Progress = Progress(), deployment: Deployment? = nil) {
        self.config = config; self.logger = logger; self.progress = progress
        self.deployment = deployment ?? Deployment(config: config)
    }

    /// Runs `job`; its steps see `now` as the run's start (the deployment's clock by default).
    public func run(_ job: JobDefinition, dryRun: Bool = false, now: Date? = nil) -> JobRunResult {
        let now = now ?? deployment.clock.now
        var results: [StepResult] = []
        let started = deployment.clock.now
        var log = logger
        log[metadataKey: "job"] = "\(job.name)"
        log.info("job started", metadata: ["steps": "\(job.steps.count)", "dry_run": "\(dryRun)"])
        let context = StepContext(config: config, job: job.name, dryRun: dryRun, logger: log, progress: progress, now: now, deployment: deployment)
        for (i, definition) in job.steps.enumerated() {
            let name = type(of: definition).name
            let t0 = Date()
            var result: StepResult
            if let failedBefore = results.first(where: { $0.status == .failed || $0.status == .unavailable }) {
                result = StepResult(
                    step: name, status: .skipped,
                    summary: "not run: step '\(failedBefore.step)' \(failedBefore.status == .failed ? "failed" : "is unavailable")")
                results.append(result)
                continue
            }
            guard let step = definition as? any JobStep else {
                results.append(StepResult(step: name, status: .failed, summary: "step '\(name)' cannot run in this build"))
                continue
            }
            progress.begin()
            do {
                result = try step.run(in: context)
            } catch {
                result = StepResult(step: name, status: .failed, summary: "\(error)")
            }
            progress.end()
            // Writes a location refused within the region's tolerance: the step did its work,
            // and says which location needs mending.
            let refused = deployment.takeWriteProblems()
            if !refused.isEmpty {
                if result.status == .succeeded { result.status = .warning }
                result.details += refused.map { "a location refused a write (verify --repair restores the copy once it takes writes): \($0)" }
            }
            result.seconds = Date().timeIntervalSince(t0)
            let level: Logger.Level = result.status == .failed ? .error : ((result.status == .warning || result.status == .unavailable) ? .warning : .info)
            log.log(
                level: level, "step finished",
                metadata: [
                    "step": "\(name)", "index": "\(i + 1)", "status": "\(result.status.rawValue)",
                    "summary": "\(result.summary)", "seconds": "\(String(format: "%.2f", result.seconds))",
                ])
            results.append(result)
        }
        let outcome = JobRunResult(job: job.name, started: started, finished: deployment.clock.now, dryRun: dryRun, steps: results)
        log.log(
            level: outcome.succeeded ? .info : (outcome.onlyUnavailable ? .warning : .error), "job finished",
            metadata: ["outcome": "\(outcome.warned ? "warned" : outcome.succeeded ? "succeeded" : "failed")"])
        return outcome
    }
}
