import ArgumentParser
import Foundation
import LeafBackup
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafRepository
import LeafTime
import Logging

extension Leafguard {
    /// `leafguard restore [SNAPSHOT|latest] --to DIR [--region R] [--force] [--include P]…`,
    /// `restore … --account ID --to DIR`, `restore … --account ID --into-live [--yes]`.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a planner data directory from a snapshot, checking every document and the database.",
            discussion: """
                Examples:
                  leafguard restore latest --to /srv/restore                       (everything)
                  leafguard restore latest --to /tmp/will --include '*will*.pdf'   (some files, with mode and mtime)
                  leafguard restore 5f2c9a1e --account 12 --to /tmp/family-12      (one family: its documents, and a
                                                                                     planner.db with only its rows)
                  leafguard restore 5f2c9a1e --account 12 --into-live              (bring back what family 12 lost into
                                                                                     the live planner; see docs/operations.md)
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Snapshot id (or a unique prefix), or 'latest'.") var snapshot = "latest"
        @Option(help: "Folder to restore into; must be empty unless --force.") var to: String?
        @Option(help: "Region to restore from (default: primary).") var region: String?
        @Flag(
            help:
                "Replace a planner data folder's content as a whole, atomically (refused when it holds anything a planner data folder does not)."
        ) var force = false
        @Option(help: "Only files matching this shell pattern (path, file name, or folder); repeatable.") var include: [String] = []
        @Option(help: "Only this account's data: its documents and its rows of the database.") var account: Int64?
        @Flag(help: "With --account: insert the account's rows and documents the live planner lacks (never overwrites).") var intoLive = false
        @Flag(help: "With --into-live: do not ask for confirmation.") var yes = false
        @Flag(help: "Print what was restored as JSON.") var json = false

        /// What `--json` prints: the snapshot, where it went, what came back and what did not.
        struct Report: Encodable {
            struct Problem: Encodable { let path: String; let problem: String }
            let snapshot: String
            let snapshotTime: Date
            let region: String
            let to: String?
            let account: Int64?
            let files: Int
            let bytes: Int64
            let seconds: Double?
            let repairedAround: [String]
            let recordedProblems: [Problem]
            let rows: [String: Int]?
            let absent: [String]?
            let broughtBack: BroughtBack?
            enum CodingKeys: String, CodingKey {
                case snapshot, region, to, account, files, bytes, seconds, rows, absent
                case snapshotTime = "snapshot_time"
                case repairedAround = "repaired_around"
                case recordedProblems = "recorded_problems"
                case broughtBack = "brought_back"
            }
        }

        func validate() throws {
            if intoLive {
                guard account != nil else { throw ValidationError("--into-live needs --account ID: only one family's data goes back into the live planner") }
                guard to == nil, !force, include.isEmpty else {
                    throw ValidationError("--into-live writes into the live planner: no --to, --force or --include")
                }
            } else if to == nil {
                throw ValidationError("say where to restore: --to DIR (or --account ID --into-live)")
            }
            if account != nil && (!include.isEmpty || force) { throw ValidationError("--account restores the account's files: no --include or --force") }
        }

        func run() throws {
            let target = to.map { absolute($0, relativeTo: FileManager.default.currentDirectoryPath) }
            if let target, !force, let existing = try? FileManager.default.contentsOfDirectory(atPath: target), !existing.isEmpty {
                throw CommandFailure("\(target) is not empty; restore into an empty folder, or pass --force to replace its content", status: 2)
            }
            let (config, name, repo) = try global.openRegion(region)
            defer { refreshMetrics(config) }
            if intoLive, !yes, let account {
                try confirm(
                    "bring back into the live planner (\(config.dataDirectory)) the rows and documents of account \(account) that snapshot "
                        + "\(snapshot) holds and it lacks? Nothing is overwritten; other accounts are not touched.",
                    otherwise: "--into-live writes into the live planner; confirm with --yes", declined: "nothing written")
            }
            // Ctrl-C stops the restore at its next pack: its scratch folder is removed and
            // the target left as it was (exit 130, or 143 for SIGTERM).
            Interruption.install()
            var objects = ["snapshot \(snapshot)", "region \(name)"] + (target.map { ["to \($0)"] } ?? [])
            objects += account.map { ["account \($0)"] } ?? []
            objects += intoLive ? ["into \(config.dataDirectory)"] : []
            objects += include.map { "include \($0)" }
            let action = intoLive ? "restore.into-live" : (account != nil ? "restore.account" : "restore")
            try audited(config, action: action, command: "restore", objects: objects) {
                do {
                    if let account {
                        try restoreAccount(account, config: config, name: name, repo: repo, target: target)
                    } else if let target {
                        try restore(config: config, name: name, repo: repo, target: target)
                    }
                } catch let e as RestoreError where e.stopped {
                    throw CommandFailure("interrupted: \(e.message)", status: Interruption.exitStatus)
                } catch let e as RestoreError where e.refused {
                    throw CommandFailure(e.message, status: 2)
                } catch let e as AccountDataError {
                    throw CommandFailure(e.message)
                }
            }
        }

        /// A restore reading `repo`, reporting progress, taking shards from the other regions
        /// where this one lacks them, and stopping at Ctrl-C.
        func reader(_ config: LeafguardConfig, _ name: String, _ repo: Repository, _ progress: LeafJobs.Progress) -> LeafBackup.Restore {
            var restore = LeafBackup.Restore(repository: repo) { phase, done, total in
                progress.update(phase, done: done, total: total)
            }
            restore.otherRegions = openDeployment(config).otherRepositories(than: name)
            restore.shouldStop = { Interruption.signalReceived != 0 }
            return restore
        }

        func restoreAccount(_ account: Int64, config: LeafguardConfig, name: String, repo: Repository, target: String?) throws {
            let manifest = try resolveAccounted(snapshot, config: config, region: name, repo: repo, logger: global.logger())
            let progress = Progress()
            progress.begin()
            let restore = reader(config, name, repo, progress)
            // Into the live planner: the account's data is restored into a private scratch
            // folder first, checked there, then what the live planner lacks is inserted.
            let scratch = openDeployment(config).scratchDirectory + "/account-\(getpid())"
            let destination = target ?? scratch + "/out"
            if target == nil {
                try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            defer { if target == nil { try? FileManager.default.removeItem(atPath: scratch) } }
            let result = try restore.runAccount(manifest, account: account, to: destination)
            progress.end()
            func report(_ back: BroughtBack?) -> Report {
                Report(
                    snapshot: manifest.id.hex, snapshotTime: manifest.time, region: name, to: target, account: account, files: result.documents + 1,
                    bytes: result.bytes, seconds: nil, repairedAround: result.repairedAround,
                    recordedProblems: manifest.problems.map { .init(path: $0.path, problem: $0.problem) }, rows: result.rows, absent: result.absent,
                    broughtBack: back)
            }
            if json && target != nil { print(try jsonString(report(nil))); return }
            if json {
                let back = try AccountReturn.bringBack(
                    account: account, slice: destination + "/" + manifest.database.path, documentsFolder: destination, into: config.dataDirectory)
                print(try jsonString(report(back)))
                if !back.conflicts.isEmpty { throw ExitCode(3) }
                return
            }
            let rows = result.rows.sorted { $0.key < $1.key }.filter { $0.value > 0 }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print(
                "account \(account) of snapshot \(manifest.id.short) (\(Timestamp.string(manifest.time))) from '\(name)': \(result.documents) "
                    + "document(s) (\(Progress.format(result.bytes, unit: "B"))), each matching its SHA-256; its rows: \(rows)")
            for p in result.absent { print("  - \(p): named by the account's rows but not in the snapshot (recorded missing at backup time)") }
            guard target == nil else {
                print("  written to \(destination): planner.db (this account's rows only, integrity_check ok) and documents/")
                return
            }
            let back = try AccountReturn.bringBack(
                account: account, slice: destination + "/" + manifest.database.path, documentsFolder: destination, into: config.dataDirectory)
            let inserted = back.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print(
                "brought back into \(config.dataDirectory): "
                    + (inserted.isEmpty && back.documents.isEmpty
                        ? "nothing: the live planner lacks none of the account's rows or documents"
                        : "\(inserted.isEmpty ? "no rows" : "rows: " + inserted.joined(separator: ", ")); \(back.documents.count) document(s)"))
            for d in back.documents { print("  + \(d)") }
            for c in back.conflicts { print("  ! \(c)") }
            if !back.conflicts.isEmpty { throw ExitCode(3) }
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
            let restore = reader(config, name, repo, progress)
            let result = try restore.run(manifest, to: target, force: force, include: include)
            progress.end()
            if json {
                print(
                    try jsonString(
                        Report(
                            snapshot: manifest.id.hex, snapshotTime: manifest.time, region: name, to: target, account: nil, files: result.files,
                            bytes: result.bytes, seconds: result.seconds, repairedAround: result.repairedAround,
                            recordedProblems: manifest.problems.map { .init(path: $0.path, problem: $0.problem) }, rows: nil, absent: nil,
                            broughtBack: nil)))
                return
            }
            print("restored snapshot \(manifest.id.short) (\(ISO8601DateFormatter().string(from: manifest.time))) from '\(name)' into \(target)")
            // The headline counts what did not match: the documents came back as stored, but
            // the snapshot may have stored some that did not match the planner's record.
            let recorded =
                manifest.problems.isEmpty
                ? "every document as the planner recorded it"
                : "\(manifest.problems.count) document(s) did NOT match the planner's record at backup time (listed below)"
            print(
                "  \(result.files) files, \(Progress.format(result.bytes, unit: "B")) in \(String(format: "%.1f", result.seconds)) s; "
                    + "what was stored came back intact (SHA-256)"
                    + (result.includedDatabase ? ", database passes integrity_check and row counts" : " (the database was not among them)")
                    + "; \(recorded)")
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
