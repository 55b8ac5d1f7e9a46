import ArgumentParser
import Foundation
import LeafBackup
import LeafConfig
import LeafJobs
import LeafRepository
import LeafTime

extension Leafguard {
    /// `leafguard diff SNAPSHOT [OTHER] [--against live|SNAPSHOT] [--account ID] [--json]`.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare a snapshot with another or with the live planner: documents and database rows added, removed, changed.",
            discussion: """
                Rows are matched by primary key, per table; documents by path and SHA-256. With --account only \
                that family's rows and documents are compared, every key listed. Examples:
                  leafguard diff 5f2c9a1e 9b01d3c4
                  leafguard diff 5f2c9a1e --account 12 --against live
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The older side: a snapshot id, a unique prefix, or 'latest'.") var snapshot: String
        @Argument(help: "The newer side: a snapshot, or 'live' (the planner data folder).") var other: String?
        @Option(help: "The newer side, as OTHER (default with --account: live).") var against: String?
        @Option(help: "Only this account's data.") var account: Int64?
        @Option(help: "Region (default: primary).") var region: String?
        @Option(help: "Keys listed per table and kind without --account (counts are always whole).") var limit = 20
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if other != nil && against != nil { throw ValidationError("give the other side once: as OTHER or with --against") }
            if other == nil && against == nil && account == nil {
                throw ValidationError("compare with what? Name a second snapshot, or --against live")
            }
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        struct Side: Encodable {
            let kind: String
            let snapshot: String?
            let time: String?
        }

        struct Report: Encodable {
            let older: Side
            let newer: Side
            let account: Int64?
            let tables: [TableDifference]
            let documents: DocumentDifference
        }

        func run() throws {
            let (config, name, repo) = try global.openRegion(region)
            let logger = global.logger()
            let newerText = other ?? against ?? "live"
            let older = try resolveAccounted(snapshot, config: config, region: name, repo: repo, logger: logger)
            let newer = newerText == "live" ? nil : try resolveAccounted(newerText, config: config, region: name, repo: repo, logger: logger)
            let scratch = openDeployment(config).scratchDirectory + "/diff-\(getpid())"
            try? FileManager.default.removeItem(atPath: scratch)
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            var restore = LeafBackup.Restore(repository: repo)
            restore.otherRegions = openDeployment(config).otherRepositories(than: name)

            /// The database to compare for one side and the documents it names (nil: all).
            func side(_ manifest: SnapshotManifest?, _ label: String) throws -> (database: String, documents: [String: String?]) {
                let folder = scratch + "/" + label
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                if let manifest {
                    if let account {
                        let slice = try restore.sliceAccount(manifest, account: account, in: folder)
                        return (slice.path, PlannerDiff.documents(of: manifest, only: Set(slice.documents)))
                    }
                    _ = try restore.run(manifest, to: folder + "/data", force: false, paths: [manifest.database.path])
                    return (folder + "/data/" + manifest.database.path, PlannerDiff.documents(of: manifest))
                }
                let live = config.dataDirectory + "/planner.db"
                guard FileManager.default.fileExists(atPath: live) else { throw CommandFailure("no live planner database at \(live)") }
                var database = live
                if let account {
                    database = folder + "/account.db"
                    try AccountRows.slice(of: live, account: account, into: database)
                }
                let paths = try AccountRows.documentPaths(in: database, account: account)
                return (database, PlannerDiff.liveDocuments(in: config.dataDirectory, named: paths))
            }

            let report: Report
            do {
                let a = try side(older, "older")
                let b = try side(newer, "newer")
                report = Report(
                    older: Side(kind: "snapshot", snapshot: older.id.hex, time: Timestamp.string(older.time)),
                    newer: newer.map { Side(kind: "snapshot", snapshot: $0.id.hex, time: Timestamp.string($0.time)) }
                        ?? Side(kind: "live", snapshot: nil, time: nil),
                    account: account,
                    tables: try PlannerDiff.tables(older: a.database, newer: b.database, limit: account == nil ? limit : .max),
                    documents: PlannerDiff.documents(older: a.documents, newer: b.documents))
            } catch let e as AccountDataError {
                throw CommandFailure(e.message, status: 2)
            } catch let e as RestoreError {
                throw CommandFailure(e.message, status: e.refused ? 2 : 1)
            }
            if json { print(try jsonString(report)); return }
            let what = account.map { "account \($0): " } ?? ""
            print(
                "\(what)snapshot \(older.id.short) (\(Timestamp.string(older.time))) → \(newer.map { "snapshot \($0.id.short) (\(Timestamp.string($0.time)))" } ?? "live")"
            )
            if report.tables.isEmpty && report.documents.isEmpty { print("  no difference"); return }
            for t in report.tables {
                print("  table \(t.table): \(t.addedCount) added, \(t.removedCount) removed, \(t.changedCount) changed")
                for (mark, keys) in [("+", t.added), ("-", t.removed), ("~", t.changed)] where !keys.isEmpty {
                    print("    \(mark) " + keys.joined(separator: "  "))
                }
                if t.truncated { print("    (more keys: --limit N, or --json)") }
            }
            let d = report.documents
            if !d.isEmpty { print("  documents: \(d.added.count) added, \(d.removed.count) removed, \(d.changed.count) changed") }
            for p in d.added { print("    + \(p)") }
            for p in d.removed { print("    - \(p)") }
            for p in d.changed { print("    ~ \(p)") }
        }
    }
}
