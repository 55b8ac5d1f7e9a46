import ArgumentParser
import Foundation
import LeafJobs
import LeafRepository

/// One file of a snapshot as `ls` and `find` print it; snake_case keys, RFC 3339 times.
struct SnapshotEntry: Encodable {
    let snapshot: String
    /// The snapshot's short id, as `snapshots list` shows it (not in the JSON).
    let short: String
    let snapshotTime: String
    let path: String
    let size: Int64
    let mode: String?
    let modified: String
    let sha256: String
    enum CodingKeys: String, CodingKey {
        case snapshot, path, size, mode, modified, sha256
        case snapshotTime = "snapshot_time"
    }

    init(_ f: SnapshotFile, in s: SnapshotManifest) {
        let iso = ISO8601DateFormatter()
        snapshot = s.id.hex
        short = s.id.short
        snapshotTime = iso.string(from: s.time)
        path = f.path
        size = f.size
        mode = f.mode.map { String($0, radix: 8) }
        modified = iso.string(from: Date(timeIntervalSince1970: f.modified))
        sha256 = f.sha256
    }

    /// `MODE  SIZE  MODIFIED  PATH`, for people.
    var line: String {
        "\((mode ?? "-").padding(toLength: 5, withPad: " ", startingAt: 0)) \(Progress.format(size, unit: "B").padding(toLength: 10, withPad: " ", startingAt: 0)) \(modified)  \(path)"
    }
}

extension Leafguard {
    /// `leafguard ls SNAPSHOT [PATH] [--region R] [--json]`.
    struct Ls: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the files a snapshot holds (the database and the documents), under PATH if given.",
            discussion: "Example: leafguard ls latest documents/42 --config /etc/leafguard/leafguard.yml")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A snapshot id, a unique prefix of it, or 'latest'.") var snapshot: String
        @Argument(help: "Only paths equal to this one or below it (e.g. documents/42).") var path: String?
        @Option(help: "Region (default: primary).") var region: String?
        @Flag(help: "Print a JSON array of files.") var json = false

        func run() throws {
            let (config, name, repo) = try global.openRegion(region)
            let manifest = try resolveAccounted(snapshot, config: config, region: name, repo: repo, logger: global.logger())
            let prefix = path.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            let files = ([manifest.database] + manifest.documents).filter { f in
                prefix.map { f.path == $0 || f.path.hasPrefix($0 + "/") } ?? true
            }
            let rows = files.map { SnapshotEntry($0, in: manifest) }
            if json { print(try jsonString(rows)); return }
            print("snapshot \(manifest.id.short) (\(ISO8601DateFormatter().string(from: manifest.time))) in '\(name)': \(rows.count) file(s)")
            for r in rows { print(r.line) }
        }
    }

    /// `leafguard find PATTERN [--snapshot ID] [--region R] [--json]`.
    struct Find: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find files by a shell pattern (matched against the path and the file name) in every snapshot, or one.",
            discussion: "Example: leafguard find '*will*.pdf' --config /etc/leafguard/leafguard.yml")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A shell pattern: * ? [..] (fnmatch), against the whole path or the file name, or a folder.") var pattern: String
        @Option(help: "Only this snapshot (an id, a unique prefix, or 'latest').") var snapshot: String?
        @Option(help: "Region (default: primary).") var region: String?
        @Flag(help: "Print a JSON array of matches.") var json = false

        func run() throws {
            let (config, name, repo) = try global.openRegion(region)
            let manifests: [SnapshotManifest]
            if let snapshot {
                manifests = [try resolveAccounted(snapshot, config: config, region: name, repo: repo, logger: global.logger())]
            } else {
                manifests = try repo.snapshots()
            }
            var rows: [SnapshotEntry] = []
            for m in manifests {
                for f in [m.database] + m.documents where f.matches(pattern) {
                    rows.append(SnapshotEntry(f, in: m))
                }
            }
            if json { print(try jsonString(rows)); return }
            if rows.isEmpty { print("no file matches '\(pattern)' in \(manifests.count) snapshot(s) of '\(name)'"); return }
            for r in rows { print("\(r.short)  \(r.snapshotTime)  \(r.line)") }
        }

    }
}
