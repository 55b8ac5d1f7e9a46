import Foundation
import LeafConcurrency

/// Progress on standard error for work longer than a second, only when standard error is
/// a terminal; silent otherwise so cron mail and logs stay clean.
public final class Progress: Sendable {
    private let enabled: Bool
    private struct Line {
        var started = Date()
        var lastDraw = Date.distantPast
        var drewSomething = false
        /// The current label and when it first appeared: its rate and ETA are its own.
        var label = ""
        var labelStarted = Date()
    }
    private let line = Locked(Line())

    /// Progress drawn only when `enabled`: by default, when standard error is a terminal.
    public init(enabled: Bool = isatty(STDERR_FILENO) == 1) { self.enabled = enabled }

    /// Starts timing a new task.
    public func begin() {
        line.withLock {
            $0.started = Date(); $0.lastDraw = .distantPast
        }
    }

    /// Redraws the progress line at most ten times a second, after the first second.
    public func update(_ label: String, done: Int64, total: Int64?, unit: String = "B") {
        guard enabled else { return }
        line.withLock { l in
            let now = Date()
            if l.label != label { l.label = label; l.labelStarted = now }
            guard now.timeIntervalSince(l.started) > 1, now.timeIntervalSince(l.lastDraw) > 0.1 else { return }
            l.lastDraw = now
            let text = "\r\u{1B}[2K" + Progress.line(label, done: done, total: total, seconds: now.timeIntervalSince(l.labelStarted), unit: unit)
            FileHandle.standardError.write(Data(text.utf8))
            l.drewSomething = true
        }
    }

    /// Clears the progress line.
    public func end() {
        guard enabled else { return }
        line.withLock { l in
            if l.drewSomething { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            l.drewSomething = false
        }
    }

    /// One progress line: `LABEL: DONE / TOTAL (P%), RATE/s, ETA M:SS` (rate and ETA once
    /// `seconds` of this label have passed and something was done; no total, no ETA).
    public static func line(_ label: String, done: Int64, total: Int64?, seconds: Double, unit: String = "B") -> String {
        var text = "\(label): \(format(done, unit: unit))"
        if let total, total > 0 {
            text += " / \(format(total, unit: unit)) (\(Int(Double(done) * 100 / Double(total)))%)"
        }
        guard seconds >= 0.5, done > 0 else { return text }
        let rate = Double(done) / seconds
        text += unit == "B" ? ", \(format(Int64(rate), unit: "B"))/s" : String(format: ", %.1f %@/s", rate, unit)
        if let total, total > done {
            let left = Int((Double(total - done) / rate).rounded(.up))
            text +=
                ", ETA "
                + (left >= 3600 ? String(format: "%d:%02d:%02d", left / 3600, left / 60 % 60, left % 60) : String(format: "%d:%02d", left / 60, left % 60))
        }
        return text
    }

    /// `n` for a person: bytes as KiB, MiB or GiB, other units as they are.
    public static func format(_ n: Int64, unit: String) -> String {
        guard unit == "B" else { return "\(n) \(unit)" }
        let d = Double(n)
        if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
        if d >= 1_048_576 { return String(format: "%.1f MiB", d / 1_048_576) }
        if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
        return "\(n) B"
    }
}
