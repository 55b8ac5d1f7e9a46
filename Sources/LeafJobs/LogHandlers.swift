import Foundation
import LeafConcurrency
import Logging

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    case human, json
}

/// Writes one line per event to standard error, for people (`2026-11-29T02:30:00Z info
/// message job=x key=value`) or for log collectors (one JSON object per line).
public struct StandardErrorLogHandler: LogHandler {
    /// Fields added to every line this handler writes.
    public var metadata: Logger.Metadata = [:]
    /// The least severe level written.
    public var logLevel: Logger.Level
    let label: String
    let format: LogFormat

    /// A handler for `label` writing lines of `level` and above in `format`.
    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.label = label; logLevel = level; self.format = format
    }

    /// One of the fields added to every line.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line for `event` to standard error.
    public func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
        var line: Data
        switch format {
        case .human:
            // One line per event: whatever a field quotes from outside (an S3 error message,
            // a file name) has its control characters escaped, so it can neither start a
            // forged line nor send the terminal an escape sequence.
            let text = fields.sorted { $0.key < $1.key }.map { "\(Self.escape($0.key))=\(quote(Self.escape($0.value)))" }.joined(separator: " ")
            line = Data("\(timestamp()) \(event.level) \(Self.escape("\(event.message)"))\(text.isEmpty ? "" : " " + text)".utf8)
        case .json:
            let fixed = ["time": timestamp(), "level": "\(event.level)", "message": "\(event.message)", "logger": label]
            let object = fixed.merging(fields) { $1 }
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
            line = data
        }
        line.append(10)
        FileHandle.standardError.write(line)
    }

    func quote(_ s: String) -> String {
        s.contains(" ") || s.contains("\"") || s.isEmpty ? "\"\(s.replacingOccurrences(of: "\"", with: "\\\""))\"" : s
    }

    /// `s` with every control character (C0, DEL, C1) written as an escape: `\n`, `\r`,
    /// `\t`, else `\u{1b}`; a backslash doubled, so an escape in the text stays readable as text.
    public static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) || $0 == "\\" }) else { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value): out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

private func timestamp() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: Date())
}

/// Installs the process-wide log handler once.
public enum LogSetup {
    private static let done = Locked(false)

    /// Makes every Logger write through a StandardErrorLogHandler in `format` from `level` up; later calls change nothing.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        done.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap { StandardErrorLogHandler(label: $0, level: level, format: format) }
        }
    }
}
