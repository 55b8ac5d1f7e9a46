/// How a run ended. `running` is the state of a run not yet ended.
public enum RunOutcome: String, Sendable, Codable, CaseIterable {
    case running, succeeded, failed
    /// Every step ran, and at least one warned (a document it could not store, say): the
    /// run's work is done, but someone must look. Exit status 3.
    case warned
    /// Stopped by its job's `timeout`.
    case timedOut = "timed-out"
    /// Its process died (killed, crashed, host lost) before it ended; found by the next tick or run.
    case interrupted
    /// Stopped by a newer run under `concurrency: replace`.
    case replaced
    /// Fire times that passed without a run (downtime, `catch_up: none`, `starting_deadline`,
    /// a dependency that did not succeed).
    case missed
}

/// Why a run started.
public enum RunTrigger: String, Sendable, Codable {
    case schedule
    case catchUp = "catch-up"
    case retry, after, manual
}
