import ArgumentParser
import Foundation
import LeafBackup
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafRepository
import Logging

extension Leafguard {
    /// `leafguard restore [SNAPSHOT|latest] --to DIR [--region R] [--force]`.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a planner data directory from a snapshot, checking every document and the database.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Snapshot id (or a unique prefix), or 'latest'.") var snapshot = "latest"
        @Option(help: "Folder to restore into; must be empty unless --force.") var to: String
        @Option(help: "Region to restore from (default: primary).") var region: String?
        @Flag(
            help:
                "Replace a planner data folder's content as a whole, atomically (refused when it holds anything a planner data folder does not)."
        ) var force = false

        func run() throws {
            let target = absolute(to, relativeTo: FileManager.default.currentDirectoryPath)
            if !force, let existing = try? FileManager.default.contentsOfDirectory(atPath: target), !existing.isEmpty {
                throw CommandFailure("\(target) is not empty; restore into an empty folder, or pass --force to replace its content", status: 2)
            }
            let (config, name, repo) = try global.openRegion(region)
            // Ctrl-C stops the restore at its next pack: its scratch folder is removed and
            // the target left as it was (exit 130, or 143 for SIGTERM).
            Interruption.install()
            try audited(config, action: "restore", command: "restore", objects: ["snapshot \(snapshot)", "region \(name)", "to \(target)"]) {
                do { try restore(config: config, name: name, repo: repo, target: target) } catch let e as RestoreError where e.stopped {
                    throw CommandFailure("interrupted: \(e.message)", status: Interruption.exitStatus)
                } catch let e as RestoreError where e.refused {
                    throw CommandFailure(e.message, status: 2)
                }
            }
        }

        func restore(config: LeafguardConfig, name: String, repo: Repository, target: String) throws {
            let manifest = try resolveAccounted(snapshot, config: config, region: name, repo: repo, logger: global.logger())
            let vanished = warnAboutVanishedObjects(config, repo, logger: global.logger())
            if snapshot == "latest", let newer = vanished.filter({ $0 > manifest.id.hex }).max() {
                printError(
                    "warning: the newest snapshot recorded for '\(name)' (\(RegionHeads.short(newer))) is in no location of it; "
                        + "restoring the newest one present, \(manifest.id.short); another region may still hold \(RegionHeads.short(newer)) (--region)")
            }
            let progress = Progress()
            progress.begin()
            var restore = LeafBackup.Restore(repository: repo) { phase, done, total in
                progress.update(phase, done: done, total: total)
            }
            // Other regions hold the same packs: their shards fill in where this region has lost too many.
            restore.otherRegions = openDeployment(config).otherRepositories(than: name)
            restore.shouldStop = { Interruption.signalReceived != 0 }
            let result = try restore.run(manifest, to: target, force: force)
            progress.end()
            print("restored snapshot \(manifest.id.short) (\(ISO8601DateFormatter().string(from: manifest.time))) from '\(name)' into \(target)")
            // The headline counts what did not match: the documents came back as stored, but
            // the snapshot may have stored some that did not match the planner's record.
            let recorded =
                manifest.problems.isEmpty
                ? "every document as the planner recorded it"
                : "\(manifest.problems.count) document(s) did NOT match the planner's record at backup time (listed below)"
            print(
                "  \(result.files) files, \(Progress.format(result.bytes, unit: "B")) in \(String(format: "%.1f", result.seconds)) s; "
                    + "what was stored came back intact (SHA-256), database passes integrity_check and row counts; \(recorded)")
            if !result.repairedAround.isEmpty {
                print("  worked around \(result.repairedAround.count) damaged or missing shard(s) (run verify --repair):")
                for r in result.repairedAround.prefix(20) { print("    - \(r)") }
            }
            if !manifest.problems.isEmpty {
                print("  the snapshot recorded \(manifest.problems.count) document problem(s) at backup time:")
                for p in manifest.problems.prefix(20) { print("    - \(p.path): \(p.problem)") }
            }
        }
    }
}

/// `text` (an id, a prefix, or `latest`) as restore, ls and find read it: 'latest' is the
/// newest snapshot leafguard wrote (by the audit log's order, not the date its id carries)
/// that a signed record accounts for, so one sealed by a holder of a data key alone (say an
/// old snapshot under a far-future id), or one a run with `--now` dated ahead, is passed by,
/// with a warning.
func resolveAccounted(_ text: String, config: LeafguardConfig, region name: String, repo: Repository, logger: Logger) throws -> SnapshotManifest {
    guard text == "latest" else { return try repo.resolveSnapshot(text) }
    let unrecorded = Set(warnAboutUnrecordedSnapshots(config, repo, logger: logger))
    guard let newestDated = repo.snapshotIDs().max() else { return try repo.resolveSnapshot(text) }
    guard let written = openDeployment(config).latestWritten(in: repo, logger: logger, unrecorded: unrecorded) else {
        throw CommandFailure("region '\(name)' holds no snapshot a signed record accounts for; name one explicitly to read it")
    }
    if written != newestDated {
        let why =
            unrecorded.contains(newestDated.hex) ? "is accounted for by no signed record" : "was not the last one written (dated ahead: a run with --now?)"
        printError("warning: the snapshot with the newest date in '\(name)', \(newestDated.short), \(why); using the last one written, \(written.short)")
    }
    return try repo.resolveSnapshot(written.hex)
}
