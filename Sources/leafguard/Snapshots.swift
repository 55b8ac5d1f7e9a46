import ArgumentParser
import Foundation
import LeafJobs
import LeafRepository

extension Leafguard {
    /// `leafguard snapshots …`.
    struct Snapshots: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List snapshots.", subcommands: [List.self])
    }
}

extension Leafguard.Snapshots {
    /// `leafguard snapshots list [--region R] [--json]`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a region's snapshots, oldest first.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Region (default: primary).") var region: String?
        @Flag(help: "Print a JSON array of snapshots.") var json = false

        struct Row: Encodable {
            let id: String
            let short: String
            let time: Date
            let host: String
            let job: String?
            let documents: Int
            let bytes: Int64
            let addedBytes: Int64
            let problems: Int
            let datedAhead: Bool
            enum CodingKeys: String, CodingKey {
                case id, short, time, host, job, documents, bytes
                case addedBytes = "added_bytes"
                case problems
                case datedAhead = "dated_ahead"
            }
        }

        func run() throws {
            let (config, name, repo) = try global.openRegion(region)
            warnAboutVanishedObjects(config, repo, logger: global.logger())
            warnAboutUnrecordedSnapshots(config, repo, logger: global.logger())
            let now = Date()
            let rows = try repo.snapshots().map {
                Row(
                    id: $0.id.hex, short: $0.id.short, time: $0.time, host: $0.host, job: $0.job, documents: $0.documents.count,
                    bytes: $0.totalBytes, addedBytes: $0.addedBytes, problems: $0.problems.count,
                    datedAhead: $0.time.timeIntervalSince(now) > Repository.clockSkew)
            }
            // A snapshot dated ahead of this host's clock (a run with --now) is flagged: it is
            // not 'latest' unless it was also the last one written.
            for r in rows where r.datedAhead {
                printError(
                    "warning: snapshot \(r.short) is dated \(ISO8601DateFormatter().string(from: r.time)), ahead of this host's clock "
                        + "(a run with --now, or a wrong clock); 'latest' is the last snapshot written, whatever its date")
            }
            if json { print(try jsonString(rows)); return }
            if rows.isEmpty { print("region '\(name)' has no snapshots"); return }
            let f = ISO8601DateFormatter()
            print("ID        TIME                  DOCUMENTS  SIZE        ADDED       JOB")
            for r in rows {
                print(
                    "\(r.short)  \(f.string(from: r.time))  \(String(r.documents).padding(toLength: 9, withPad: " ", startingAt: 0))  "
                        + "\(Progress.format(r.bytes, unit: "B").padding(toLength: 10, withPad: " ", startingAt: 0))  "
                        + "\(Progress.format(r.addedBytes, unit: "B").padding(toLength: 10, withPad: " ", startingAt: 0))  \(r.job ?? "-")"
                        + (r.problems > 0 ? "  (\(r.problems) document problems)" : "") + (r.datedAhead ? "  (dated ahead)" : ""))
            }
        }
    }
}
