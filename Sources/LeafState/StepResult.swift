import Foundation

/// What a step reports when it finishes: a verdict, one line for a person, figures for
/// history and reports, and details (problems found, files written).
public struct StepResult: Sendable, Codable, Equatable {
    /// `unavailable`: the step is valid but this version cannot run it; like `failed`, it
    /// stops the job and makes the run fail.
    public enum Status: String, Sendable, Codable { case succeeded, warning, failed, skipped, unavailable }
    /// The step's name.
    public var step: String
    /// How it ended.
    public var status: Status
    /// One line for a person.
    public var summary: String
    /// Named figures (bytes written, packs read, …) for history, metrics and reports.
    public var figures: [String: Double]
    /// Problems found and files written, one per line.
    public var details: [String]
    /// How long the step took.
    public var seconds: Double

    /// A result with the given parts.
    public init(step: String, status: Status, summary: String, figures: [String: Double] = [:], details: [String] = [], seconds: Double = 0) {
        self.step = step; self.status = status; self.summary = summary
        self.figures = figures; self.details = details; self.seconds = seconds
    }
}
