import Foundation

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
