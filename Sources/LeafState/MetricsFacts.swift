import Foundation

/// What commands learned about the deployment, kept between them for the metrics file:
/// `tick` runs every minute and opens no region, so the figures a run, verify, restore,
/// scan or report learned are kept here (`StateLayout.metricsFacts`, JSON, times in Unix
/// seconds) and rendered with the run history by every command that writes the file.
public struct MetricsFacts: Codable, Sendable, Equatable {
    /// One region as last seen.
    public struct Region: Codable, Sendable, Equatable {
        /// Snapshots the region lists.
        public var snapshots = 0
        /// When its newest snapshot was taken (Unix seconds); nil with none.
        public var newestSnapshot: Double?
        /// Bytes of every shard of every pack its index lists, parity included.
        public var storedBytes: Double = 0
        /// Packs its index lists.
        public var packs = 0
        /// Of them, packs no verify read whole within the coverage window.
        public var packsUnverified = 0
        /// When this was learned (Unix seconds).
        public var learned: Double = 0
        /// A region with the given figures.
        public init(
            snapshots: Int = 0, newestSnapshot: Double? = nil, storedBytes: Double = 0, packs: Int = 0, packsUnverified: Int = 0, learned: Double = 0
        ) {
            self.snapshots = snapshots; self.newestSnapshot = newestSnapshot; self.storedBytes = storedBytes
            self.packs = packs; self.packsUnverified = packsUnverified; self.learned = learned
        }
        enum CodingKeys: String, CodingKey {
            case snapshots, packs, learned
            case newestSnapshot = "newest_snapshot"
            case storedBytes = "stored_bytes"
            case packsUnverified = "packs_unverified"
        }
    }

    /// Regions by name.
    public var regions: [String: Region] = [:]
    /// Problems the last verify of each region found (region → count; notes not counted).
    public var verifyProblems: [String: Int] = [:]
    /// When the active master-key version was made (Unix seconds).
    public var activeKeyCreated: Double?
    /// The last posture report's verdict per promise (0 pass, 1 warn, 2 fail).
    public var posture: [String: Int] = [:]
    /// The last compliance scan's unexcepted findings per severity.
    public var compliance: [String: Int] = [:]

    /// No facts yet.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case regions, posture, compliance
        case verifyProblems = "verify_problems"
        case activeKeyCreated = "active_key_created"
    }

    /// The facts kept in `layout`'s state folder; none when absent or unreadable.
    public static func read(_ layout: StateLayout) -> MetricsFacts {
        (try? JSONDecoder().decode(MetricsFacts.self, from: Data(contentsOf: URL(fileURLWithPath: layout.metricsFacts)))) ?? MetricsFacts()
    }

    /// Reads, changes and writes back the facts under an exclusive lock (a run and a verify
    /// learning at once lose neither's facts); best effort: facts are for alerting, and a
    /// command never fails because it could not keep them.
    public static func update(_ layout: StateLayout, _ change: (inout MetricsFacts) -> Void) {
        try? FileManager.default.createDirectory(atPath: layout.root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let lock = open(layout.metricsFacts + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { return }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { return }
        var facts = read(layout)
        change(&facts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(facts) else { return }
        try? data.write(to: URL(fileURLWithPath: layout.metricsFacts), options: .atomic)
    }
}
