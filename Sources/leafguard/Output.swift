import ArgumentParser
import Foundation
import LeafAudit
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafTime
import Logging

/// Prints a job run for a person: one line per step with its verdict and summary.
func printRun(_ run: JobRunResult, runID: Int64? = nil) {
    // The word the exit status and the history use: a warned run is `warned` (exit 3).
    let verdict = run.outcome == .failed ? (run.onlyUnavailable ? "incomplete" : "FAILED") : run.outcome.rawValue
    let seconds = run.finished.timeIntervalSince(run.started)
    print("job \(run.job)\(runID.map { " (run \($0))" } ?? "")\(run.dryRun ? " (dry run)" : ""): \(verdict) in \(String(format: "%.1f", seconds)) s")
    for (i, s) in run.steps.enumerated() {
        let mark: String
        switch s.status {
        case .succeeded: mark = "ok  "
        case .warning: mark = "warn"
        case .failed: mark = "FAIL"
        case .skipped: mark = "skip"
        case .unavailable: mark = "n/a "
        }
        print("  \(i + 1). [\(mark)] \(s.step): \(s.summary)")
        for d in s.details.prefix(10) { print("         - \(d)") }
        if s.details.count > 10 { print("         - … and \(s.details.count - 10) more") }
    }
}

/// `value` as every command prints JSON (docs/json.md): snake_case keys (map keys, which
/// are data, as they are), RFC 3339 UTC times with `Z`, sorted keys, slashes unescaped.
func jsonString<T: Encodable>(_ value: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    e.keyEncodingStrategy = .convertToSnakeCase
    e.dateEncodingStrategy = .iso8601
    return String(decoding: try e.encode(value), as: UTF8.self)
}

/// Runs `body` and records it in the audit log with its outcome (the error, if it threw).
func audited<T>(
    _ config: LeafguardConfig, action: String, command: String, objects: [String], checkpoint: Bool = true,
    _ body: () throws -> T
) throws -> T {
    let trail = AuditTrail(deployment: openDeployment(config), logger: Logger(label: "leafguard"))
    // Never unaudited: a log that cannot take the entry stops the command before its work.
    do { try trail.ensureAppendable() } catch { throw CommandFailure("\(error)") }
    do {
        let value = try body()
        trail.record(AuditEntry(action: action, command: command, objects: objects, outcome: "succeeded"))
        // Every audited command ends with a signed checkpoint in the regions: cutting the
        // log's last entries is caught, on this host and on a new one.
        if checkpoint { trail.checkpoint() }
        return value
    } catch {
        let text = (error as? ExitCode).map { "exit \($0.rawValue)" } ?? "\(error)"
        trail.record(AuditEntry(action: action, command: command, objects: objects, outcome: "failed", detail: String(text.prefix(300))))
        trail.checkpoint()
        throw error
    }
}

/// An ISO 8601 instant, with or without fractional seconds.
func parseInstant(_ text: String) -> Date? { Timestamp.parse(text) }

/// An instant as ISO 8601 with milliseconds, the form `--now` and `--scheduled-for` take.
func isoFractional(_ date: Date) -> String { Timestamp.fractional(date) }

/// Asks a person at a terminal to type `yes` to `question`; without a terminal it fails with
/// `otherwise` (exit 2: a script confirms with `--yes`), and anything but `yes` with `declined`.
func confirm(_ question: String, otherwise: String, declined: String) throws {
    guard isatty(0) == 1 else { throw CommandFailure(otherwise, status: 2) }
    print(question + "\ntype yes: ", terminator: "")
    guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else { throw CommandFailure(declined, status: 1) }
}
