import Foundation
import Logging

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    case human, json
}

/// One line per event on standard error: `2026-11-29T02:30:00Z info job=x message key=value`.
public struct HumanLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) { self.label = label; logLevel = level }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\(quote("\($0.value)"))" }.joined(separator: " ")
        let line = "\(timestamp()) \(event.level) \(event.message)\(fields.isEmpty ? "" : " " + fields)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func quote(_ s: String) -> String { s.contains(" ") || s.isEmpty ? "\"\(s)\"" : s }
}

/// One JSON object per line on standard error, for log collectors.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) { self.label = label; logLevel = level }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: String] = ["time": timestamp(), "level": "\(event.level)", "message": "\(event.message)", "logger": label]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { object[k] = "\(v)" }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(10)
        FileHandle.standardError.write(data)
    }
}

private func timestamp() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: Date())
}

/// Installs the process-wide log handler once.
public enum LogSetup {
    nonisolated(unsafe) private static var done = false
    private static let lock = NSLock()

    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        lock.lock(); defer { lock.unlock() }
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            switch format {
            case .human: return HumanLogHandler(label: label, level: level)
            case .json: return JSONLogHandler(label: label, level: level)
            }
        }
    }
}
