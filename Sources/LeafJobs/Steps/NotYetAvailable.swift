import Foundation

/// The result for a step whose implementation has not landed yet: the job definition is
/// valid, but running it fails loudly rather than pretending to have done the work.
func notYetAvailable(_ step: String, _ what: String) -> StepResult {
    StepResult(step: step, status: .unavailable, summary: "'\(step)' is not available in this version of leafguard (\(what))")
}
