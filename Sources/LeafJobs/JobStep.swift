import Foundation
import LeafConfig
import Logging

/// What a step reports when it finishes: a verdict, one line for a person, figures for
/// history and reports, and details (problems found, files written).
public struct StepResult: Sendable, Codable, Equatable {
    /// `unavailable`: the step is valid but this version cannot run it; like `failed`, it
    /// stops the job and makes the run fail.
    public enum Status: String, Sendable, Codable { case succeeded, warning, failed, skipped, unavailable }
    public var step: String
    public var status: Status
    public var summary: String
    public var figures: [String: Double]
    public var details: [String]
    public var seconds: Double

    public init(step: String, status: Status, summary: String, figures: [String: Double] = [:], details: [String] = [], seconds: Double = 0) {
        self.step = step; self.status = status; self.summary = summary
        self.figures = figures; self.details = details; self.seconds = seconds
    }
}

/// Everything a running step may use. Tests build one with a temporary configuration.
public struct StepContext: Sendable {
    public let config: LeafguardConfig
    public let job: String
    public let dryRun: Bool
    public let logger: Logger
    public let progress: Progress
    /// The instant the run started, injected so tests control time.
    public let now: Date
    /// The run's deployment, shared by every step: the master key is derived and the
    /// keyring read once per run, however many steps open a region.
    public let deployment: Deployment

    public init(
        config: LeafguardConfig, job: String, dryRun: Bool, logger: Logger, progress: Progress, now: Date = Date(), deployment: Deployment? = nil
    ) {
        self.config = config; self.job = job; self.dryRun = dryRun
        self.logger = logger; self.progress = progress; self.now = now
        self.deployment = deployment ?? Deployment(config: config)
    }
}

/// A step that runs. Steps throw for failures they cannot describe as a result.
public protocol JobStep: StepDefinition {
    func run(in context: StepContext) throws -> StepResult
}

/// A step failed in a way that names what to do next.
public struct StepError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
