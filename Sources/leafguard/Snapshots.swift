import ArgumentParser
import Foundation
import LeafDeployment
import LeafJobs
import LeafRepository

extension Leafguard {
    /// `leafguard snapshots …`.
    struct Snapshots: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List and forget snapshots.", subcommands: [List.self, Forget.self])
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

extension Leafguard.Snapshots {
    /// `leafguard snapshots forget ID… [--region R | --all-regions] [--json]`.
    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget snapshots by id; the next prune removes the data only they used.",
            discussion: """
                Each ID is a snapshot id or a unique prefix of it (as 'snapshots list' shows it). Without \
                --all-regions only the named region's copy is forgotten (default: primary); another region's \
                copy would be copied back by replicate. Example: leafguard snapshots forget 5f2c9a1e --all-regions
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Snapshot ids or unique prefixes.") var ids: [String]
        @Option(help: "Region (default: primary).") var region: String?
        @Flag(help: "Forget them in every region that holds them.") var allRegions = false
        @Flag(help: "Print a JSON array of {region, snapshot} forgotten.") var json = false

        struct Row: Encodable { let region: String; let snapshot: String }

        func validate() throws {
            if ids.isEmpty { throw ValidationError("name at least one snapshot id") }
            if allRegions && region != nil { throw ValidationError("--region and --all-regions exclude each other") }
            if ids.contains("latest") { throw ValidationError("name snapshots by id: 'latest' moves as backups run") }
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            if let region { try global.checkRegion(region, in: config) }
            let deployment = openDeployment(config)
            let regions = allRegions ? config.regionNames : [region ?? config.primaryRegion.name]
            // Every id is resolved in every region first: a typo forgets nothing anywhere.
            var plan: [(String, LeafRepository.Repository, [ObjectID])] = []
            var found = Set<String>()
            for name in regions {
                let repo: LeafRepository.Repository
                do { repo = try deployment.existingRepository(name) } catch  where allRegions { continue }
                let listed = repo.snapshotIDs()
                var chosen: [ObjectID] = []
                for text in ids {
                    let t = text.lowercased()
                    let matches = listed.filter { $0.hex.hasPrefix(t) || $0.short.hasPrefix(t) }
                    if matches.count > 1 { throw CommandFailure("'\(text)' matches \(matches.count) snapshots in '\(name)'; give more of the id", status: 2) }
                    if let m = matches.first { chosen.append(m); found.insert(text) }
                }
                if !chosen.isEmpty { plan.append((name, repo, chosen)) }
            }
            let missing = ids.filter { !found.contains($0) }
            guard missing.isEmpty else {
                throw CommandFailure(
                    "no snapshot \(missing.joined(separator: ", ")) in \(regions.map { "'\($0)'" }.joined(separator: ", ")); nothing was forgotten "
                        + "(see 'leafguard snapshots list')", status: 2)
            }
            let objects = plan.flatMap { name, _, chosen in chosen.map { "snapshot \($0.hex) in \(name)" } }
            var rows: [Row] = []
            try audited(config, action: "snapshot.forget", command: "snapshots forget", objects: objects) {
                for (name, repo, chosen) in plan {
                    for id in try repo.forget(chosen) { rows.append(Row(region: name, snapshot: id.hex)) }
                }
            }
            if json { print(try jsonString(rows)); return }
            for r in rows { print("forgot \(RegionHeads.short(r.snapshot)) in '\(r.region)'") }
            print("the data only they used is removed by the next prune ('leafguard prune', or a job's prune step)")
        }
    }
}
