import ArgumentParser
import Foundation
import LeafAudit
import LeafConfig
import LeafDeployment
import LeafJobs

extension Leafguard {
    /// `leafguard audit …`.
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "leafguard's tamper-evident audit log, and the seals of the planner's activity log.",
            subcommands: [Verify.self, Show.self, VerifyActivity.self, Checkpoint.self])
    }
}

extension Leafguard.Audit {
    /// `leafguard audit verify`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every entry's hash and link, and the log against its newest signed checkpoint (state folder and regions). Exit 1 on any problem.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the result as JSON.") var json = false

        struct Report: Encodable {
            struct Handover: Encodable { let entry: Int; let at: String; let from: String; let to: String }
            let log: String
            let entries: Int
            let head: String
            let checkpointCopies: Int
            let newestCheckpointEntries: Int?
            let newestCheckpointAt: String?
            let signingKey: String
            let handovers: [Handover]
            let intact: Bool
            let problems: [String]
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let trail = AuditTrail(deployment: openDeployment(config), logger: logger)
            try trail.restoreFromRegionsIfMissing()
            let signer = try trail.signer()
            let keys = try openDeployment(config).auditKeys()
            var problems: [String] = []
            var newest: LeafAudit.Checkpoint?
            var copies = 0
            var handovers: [String: LeafAudit.Checkpoint] = [:]
            for (source, name, bytes) in trail.checkpointCopies() {
                copies += 1
                do {
                    let c = try LeafAudit.Checkpoint.open(bytes, publicKeys: keys.publicKeys)
                    if c.length > newest?.length ?? -1 { newest = c }
                    if c.nextPublicKey != nil { handovers[c.name] = c }
                } catch {
                    problems.append("\(name) in \(source): \(error)")
                }
            }
            let v = try trail.log.verify(checkpoint: newest)
            problems = v.problems + problems
            if json {
                let chain = handovers.values.sorted { $0.length < $1.length }.map {
                    Report.Handover(entry: $0.length, at: $0.at, from: $0.publicKey, to: $0.nextPublicKey ?? "")
                }
                print(
                    try jsonString(
                        Report(
                            log: trail.log.path, entries: v.entries, head: v.head, checkpointCopies: copies, newestCheckpointEntries: newest?.length,
                            newestCheckpointAt: newest?.at, signingKey: signer.publicKeyHex, handovers: chain, intact: problems.isEmpty, problems: problems)))
                if !problems.isEmpty { throw ExitCode(1) }
                return
            }
            print("audit log \(trail.log.path): \(v.entries) entries, head \(v.head.prefix(16))…")
            print("checkpoints: \(copies) copies; newest trusted: \(newest.map { "\($0.length) entries at \($0.at)" } ?? "none")")
            print("signing key: ed25519 \(signer.publicKeyHex) (kept sealed in the keyring)")
            // The chain of keys: each handover signed by the key before it and the key after.
            for c in handovers.values.sorted(by: { $0.length < $1.length }) {
                print("key handover at entry \(c.length) (\(c.at)): \(c.publicKey.prefix(16))… → \(c.nextPublicKey?.prefix(16) ?? "")…, signed by both")
            }
            if problems.isEmpty { print("intact"); return }
            for p in problems { print("BAD: \(p)") }
            throw ExitCode(1)
        }
    }

    /// `leafguard audit show [--since T] [--job NAME] [--json]`.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print audit entries, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only entries at or after this instant (ISO 8601).") var since: String?
        @Option(help: "Only entries of this job.") var job: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let since, parseInstant(since) == nil { throw ValidationError("--since '\(since)' is not ISO 8601") }
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let start = since.flatMap(parseInstant)
            let entries = try AuditTrail(deployment: openDeployment(config), logger: logger).log.entries().filter { e in
                (job == nil || e.job == job) && (start.map { s in parseInstant(e.at).map { $0 >= s } ?? true } ?? true)
            }
            if json { print(try jsonString(entries)); return }
            for e in entries {
                let what = [e.job, e.step].compactMap { $0 }.joined(separator: "/")
                print("\(e.seq)\t\(e.at)\t\(e.user)@\(e.host)\t\(e.action)\t\(what.isEmpty ? "-" : what)\t\(e.outcome)\t\(e.detail)")
            }
        }
    }

    /// `leafguard audit verify-activity`.
    struct VerifyActivity: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the planner's activity log with its seals: rows changed, deleted or inserted among sealed rows, by id. Exit 1 if any.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Report: Encodable {
            let seals: Int, sealedRows: Int
            let changed: [Int64], deleted: [Int64], inserted: [Int64], sealProblems: [String]
            let intact: Bool
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let trail = AuditTrail(deployment: openDeployment(config), logger: logger)
            let keys = try openDeployment(config).auditKeys()
            let t0 = Date()
            let v = try ActivitySealer(stateDirectory: config.stateDirectory).verify(
                database: config.dataDirectory + "/planner.db", publicKeys: keys.publicKeys)
            let seconds = Date().timeIntervalSince(t0)
            trail.record(
                AuditEntry(
                    action: "activity.verify", command: "audit verify-activity", objects: ["\(v.sealedRows) sealed rows"],
                    outcome: v.intact ? "intact" : "tampered",
                    detail: "\(v.changed.count) changed, \(v.deleted.count) deleted, \(v.inserted.count) inserted, \(v.sealProblems.count) seal problems"))
            if json {
                print(
                    try jsonString(
                        Report(
                            seals: v.seals, sealedRows: v.sealedRows, changed: v.changed, deleted: v.deleted,
                            inserted: v.inserted, sealProblems: v.sealProblems, intact: v.intact)))
            } else {
                print("activity log: \(v.sealedRows) sealed rows in \(v.seals) seals, checked in \(String(format: "%.2f", seconds)) s")
                func list(_ label: String, _ ids: [Int64]) {
                    guard !ids.isEmpty else { return }
                    print("\(label) (\(ids.count)): \(ids.prefix(50).map(String.init).joined(separator: ", "))\(ids.count > 50 ? ", …" : "")")
                }
                list("changed rows", v.changed)
                list("deleted rows", v.deleted)
                list("inserted rows", v.inserted)
                for p in v.sealProblems { print("BAD: \(p)") }
                if v.intact { print("intact") }
            }
            if !v.intact { throw ExitCode(1) }
        }
    }

    /// `leafguard audit checkpoint`.
    struct Checkpoint: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a checkpoint of the audit log now and store it in the state folder and every region.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let stored = AuditTrail(deployment: openDeployment(config), logger: logger).checkpoint()
            guard !stored.isEmpty else { throw CommandFailure("no checkpoint written (empty log, or see the error above)") }
            print("checkpoint stored in: \(stored.joined(separator: ", "))")
        }
    }
}
