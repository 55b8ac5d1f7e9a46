import Foundation
import LeafState
import LeafTime

/// One restore drill as `STATE/drills/history.jsonl` records it: evidence that a region's
/// data restores, and the recovery time actually achieved.
public struct DrillRecord: Codable, Sendable, Equatable {
    /// When the drill ran (the deployment's clock).
    public var time: Date
    /// The job that ran it.
    public var job: String
    /// The region restored from.
    public var region: String
    /// Short id and time of the snapshot restored; nil when none could be chosen.
    public var snapshot: String?
    /// When the snapshot restored was taken: the recovery point the drill proved.
    public var snapshotTime: Date?
    /// `succeeded` or `failed`.
    public var outcome: String
    /// The recovery time: seconds from start to a checked restore.
    public var seconds: Double
    /// Files restored: the database and every document.
    public var files: Int
    /// Bytes restored.
    public var bytes: Int64
    /// Why it failed, or what it worked around; nil when there is nothing to say.
    public var detail: String?

    /// A record with every field given.
    public init(
        time: Date, job: String, region: String, snapshot: String?, snapshotTime: Date?, outcome: String, seconds: Double, files: Int, bytes: Int64,
        detail: String?
    ) {
        self.time = time; self.job = job; self.region = region; self.snapshot = snapshot; self.snapshotTime = snapshotTime
        self.outcome = outcome; self.seconds = seconds; self.files = files; self.bytes = bytes; self.detail = detail
    }
}

/// The drill history: appended one JSON line per drill, read back whole.
public struct DrillHistory: Sendable {
    /// `STATE/drills/history.jsonl`.
    public let path: String
    /// The history kept in `stateDirectory`.
    public init(stateDirectory: String) { path = StateLayout(stateDirectory).drillHistory }

    /// Appends `record` as one line, fsync'd (the folder is created if missing).
    public func append(_ record: DrillRecord) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        var line = try e.encode(record)
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DeploymentError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let n = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == line.count, fsync(fd) == 0 else { throw DeploymentError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }

    /// Every drill recorded, oldest first (a torn last line is skipped).
    public func all() -> [DrillRecord] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .timestamp
        return text.split(separator: "\n").compactMap { try? d.decode(DrillRecord.self, from: Data($0.utf8)) }
    }
}
