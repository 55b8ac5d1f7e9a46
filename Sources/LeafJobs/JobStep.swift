import Foundation
import LeafConfig
import LeafDeployment
import Logging

/// Everything a running step may use. Tests build one with a temporary configuration.
public struct StepContext: Sendable {
    /// The configuration the job runs under.
    public let config: LeafguardConfig
    /// The job's name, for audit entries and messages.
    public let job: String
    /// Whether the step should only say what it would do.
    public let dryRun: Bool
    /// Where the step logs.
    public let logger: Logger
    /// Where the step draws its progress line.
    public let progress: Progress
    /// The instant the run started: the deployment's clock unless a caller gives one.
    public let now: Date
    /// The run's deployment, shared by every step: the master key is derived and the
    /// keyring read once per run, however many steps open a region.
    public let deployment: Deployment

    /// A context for a step of `job`; `now` defaults to the deployment's clock, and `deployment` to a new one of `config`.
    public init(
        config: LeafguardConfig, job: String, dryRun: Bool, logger: Logger, progress: Progress, now: Date? = nil, deployment: Deployment? = nil
    ) {
        self.config = config; self.job = job; self.dryRun = dryRun
        self.logger = logger; self.progress = progress
        let deployment = deployment ?? Deployment(config: config)
        self.deployment = deployment
        self.now = now ?? deployment.clock.now
    }
}

/// A step that runs. Steps throw for failures they cannot describe as a result.
public protocol JobStep: StepDefinition {
    func run(in context: StepContext) throws -> StepResult
}

/// A step failed in a way that names what to do next.
public struct StepError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and what to do.
    public let message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message itself.
    public var description: String { message }
}
