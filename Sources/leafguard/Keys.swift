import ArgumentParser
import Foundation
import LeafConcurrency
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafKeys
import LeafRepository

extension Leafguard {
    /// `leafguard keys …`.
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Master keys.",
            subcommands: [Init.self, Status.self, List.self, Rotate.self, Retire.self, ChangeKey.self, ChangePassphrase.self, AddDataKeys.self])
    }
}

extension Leafguard.Keys {
    /// `leafguard keys init [FILE]`: a new random master key file, mode 0600.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a random 32-byte master key file with mode 0600; never overwrites one.")

        @Argument(help: "Path of the new key file.") var file: String

        func run() throws {
            let path = absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
            do { try MasterKeySource.createKeyFile(at: path) } catch let e as KeyError { throw CommandFailure(e.message) }
            print("created \(path) (mode 0600). Keep a copy offline: without it no backup can be restored.")
        }
    }
}

extension Leafguard.Keys {
    /// `leafguard keys status [--json]`.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List master-key versions (state, created, rotated, retired) and how many data keys each wraps per region.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct VersionRow: Encodable {
            let version: UInt32
            let state: String
            let created: Date
            let rotated: Date?
            let retired: Date?
            let wipeAfter: Date?
            let materialWiped: Bool
            let dataKeys: [String: Int]
        }
        struct Output: Encodable {
            let keyring: String
            let versions: [VersionRow]
            let rotationUnfinished: Bool
            let keysUnderSeveralVersions: [String: Int]
            /// Wrapped data keys none of whose copies could be read, per region.
            let unreadableKeys: [String: [String]]
            let unreachable: [String]
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let deployment = openDeployment(config)
            let ring = try deployment.keyring()
            let (census, unreachable) = KeyManagement(deployment: deployment, logger: logger).census()
            let rows = ring.records.map { r in
                VersionRow(
                    version: r.version, state: r.state.rawValue, created: r.created, rotated: r.rotated, retired: r.retired,
                    wipeAfter: r.wipeAfter, materialWiped: r.state == .retired && r.sealed == nil,
                    dataKeys: Dictionary(uniqueKeysWithValues: census.map { ($0.region, $0.byVersion[r.version] ?? 0) }))
            }
            let out = Output(
                keyring: FileManager.default.fileExists(atPath: ring.path) ? ring.path : "none yet (the configured key is version 1)",
                versions: rows, rotationUnfinished: FileManager.default.fileExists(atPath: config.state.rotation),
                keysUnderSeveralVersions: Dictionary(uniqueKeysWithValues: census.map { ($0.region, $0.mixed) }),
                unreadableKeys: Dictionary(uniqueKeysWithValues: census.map { ($0.region, $0.unreadable) }), unreachable: unreachable)
            if json { print(try jsonString(out)); return }
            let f = ISO8601DateFormatter()
            print("keyring: \(out.keyring)")
            for r in rows {
                var line = "  v\(r.version)  \(r.state.padding(toLength: 12, withPad: " ", startingAt: 0)) created \(f.string(from: r.created))"
                if let d = r.rotated { line += ", rotated \(f.string(from: d))" }
                if let d = r.retired {
                    line +=
                        ", retired \(f.string(from: d))"
                        + (r.materialWiped ? ", material wiped" : r.wipeAfter.map { ", wiped after \(f.string(from: $0))" } ?? "")
                }
                line +=
                    "; data keys: "
                    + (r.dataKeys.isEmpty ? "no region yet" : r.dataKeys.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                print(line)
            }
            if out.rotationUnfinished { print("a rotation is unfinished: run 'leafguard keys rotate' to finish it") }
            for (region, names) in out.unreadableKeys.sorted(by: { $0.key < $1.key }) where !names.isEmpty {
                print("unreadable in \(region): \(names.count) data key(s) with no readable copy (\(names.prefix(5).joined(separator: ", ")))")
            }
            for u in unreachable { print("unreachable: \(u)") }
        }
    }

    /// `leafguard keys rotate`.
    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Activate a new master-key version and re-wrap every data key in every region under it (finishes an interrupted rotation instead, if there is one)."
        )
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let keys = KeyManagement(deployment: openDeployment(config), logger: logger)
            let progress = Progress()
            progress.begin()
            let report = try audited(config, action: "key.rotate", command: "keys rotate", objects: ["master-key versions"]) {
                try keys.rotate { region, done, total in progress.update("re-wrapping data keys in \(region)", done: Int64(done), total: Int64(total)) }
            }
            progress.end()
            print("\(report.resumed ? "finished the rotation to" : "activated") master-key version \(report.version)")
            for (region, r) in report.regions {
                let rate = r.rewrapSeconds > 0 && r.rewrapped > 0 ? String(format: " (%.0f keys/s)", Double(r.rewrapped) / r.rewrapSeconds) : ""
                print(
                    "  \(region): \(r.rewrapped) of \(r.keys) data keys re-wrapped into one key set (\(r.copiesWritten) copies) in "
                        + "\(String(format: "%.2f", r.rewrapSeconds)) s\(rate); \(r.objectsRemoved) older key objects removed; \(String(format: "%.2f", r.seconds)) s in all"
                )
            }
        }
    }

    /// `leafguard keys retire VERSION [--wipe-after 30d]`.
    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire a decrypt-only master-key version (or every one); refused while any data key in any region is wrapped by it.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The version to retire.") var version: UInt32?
        @Flag(help: "Retire every decrypt-only version (after a leak: 'keys rotate' first, so that none wraps anything).")
        var allInactive = false
        @Option(help: "Wipe the version's key material after this long (e.g. 30d; 0s wipes it now).") var wipeAfter = "30d"

        func validate() throws {
            guard parseDuration(wipeAfter) != nil else { throw ValidationError("--wipe-after '\(wipeAfter)' is not a duration such as 30d") }
            guard (version == nil) != (!allInactive) else { throw ValidationError("give a version or --all-inactive, not both or neither") }
        }

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let keys = KeyManagement(deployment: openDeployment(config), logger: logger)
            let versions: [UInt32]
            if let version {
                versions = [version]
            } else {
                versions = try keys.deployment.keyring().records.filter { $0.state == .decryptOnly }.map(\.version)
                if versions.isEmpty { print("no decrypt-only version to retire"); return }
            }
            for v in versions {
                do {
                    try audited(config, action: "key.retire", command: "keys retire", objects: ["master-key version \(v)"]) {
                        guard let grace = parseDuration(wipeAfter) else { throw ValidationError("--wipe-after '\(wipeAfter)' is not a duration") }
                        try keys.retire(v, grace: grace)
                    }
                } catch let e as KeyError { throw CommandFailure(e.message) }
                print("master-key version \(v) retired; its material is wiped after \(wipeAfter)")
            }
        }
    }
}

extension Leafguard.Keys {
    /// `leafguard keys add-data-keys COUNT [--region R]`: stores COUNT new data keys the way
    /// a backup does (each wrapped alone, a copy in every location). Hidden: it exists for
    /// bench/key-rotation.sh, which needs a region with as many keys as years of backups.
    struct AddDataKeys: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-data-keys", abstract: "Store COUNT new data keys (for benchmarks).", shouldDisplay: false)
        @OptionGroup var global: GlobalOptions
        @Argument var count: Int
        @Option var region = "primary"

        func run() throws {
            let repo = try openDeployment(try global.loadConfig()).repository(region, create: true)
            let workers = 4
            let firstFailure = Locked<String?>(nil)
            parallelForEach(workers, width: workers) { w in
                for _ in stride(from: w, to: count, by: workers) {
                    do { try repo.storeDataKey(try DataKey.generate()) } catch {
                        firstFailure.withLock { if $0 == nil { $0 = "\(error)" } }
                    }
                }
            }
            if let first = firstFailure.value { throw CommandFailure(first) }
            print("stored \(count) data keys in '\(region)'")
        }
    }
}

extension Leafguard.Keys {
    /// `leafguard keys change-passphrase --new-passphrase-env VAR`.
    struct ChangePassphrase: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "change-passphrase",
            abstract: "Re-seal the keyring under a new passphrase (keys.master: passphrase-env:VAR); no data key or stored object changes.",
            discussion: "The configured variable must hold the current passphrase and --new-passphrase-env names one holding the new one "
                + "(at least 12 characters). Afterwards, put the new passphrase in the configured variable.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Environment variable holding the new passphrase.") var newPassphraseEnv: String

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let keys = KeyManagement(deployment: openDeployment(config), logger: logger)
            do {
                try audited(config, action: "key.passphrase", command: "keys change-passphrase", objects: ["keyring"], checkpoint: false) {
                    try keys.changePassphrase(newVariable: newPassphraseEnv)
                }
            } catch let e as KeyError { throw CommandFailure(e.message) }
            print(
                "keyring re-sealed under the new passphrase; set \(config.masterKey.description.replacingOccurrences(of: "passphrase-env:", with: "")) to it before the next run"
            )
        }
    }
}

extension Leafguard.Keys {
    /// `leafguard keys list [--json]`: every data key of every region and what it seals.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every data key: id, algorithm, wrapping master-key version, first use, what it seals, which regions hold it.",
            discussion: "A key that may have leaked is replaced by a job with '- reencrypt: {data_key: ID}'; afterwards it is listed nowhere.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            let id: String
            let algorithm: String
            let masterVersion: UInt32?
            let firstSealed: Date?
            let seals: [String: Int]
            let regions: [String: [String]]
        }

        func run() throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let deployment = openDeployment(config)
            var rows: [String: Row] = [:]
            for region in config.regionNames {
                let repo: Repository
                do { repo = try deployment.repository(region) } catch RepositoryError.notInitialized { continue }
                for k in try repo.dataKeyList() {
                    let old = rows[k.id]
                    var seals = old?.seals ?? [:]
                    if old == nil { seals = k.seals }
                    var regions = old?.regions ?? [:]
                    regions[region] = k.storedIn
                    rows[k.id] = Row(
                        id: k.id, algorithm: old?.algorithm ?? k.algorithm, masterVersion: [old?.masterVersion, k.masterVersion].compactMap { $0 }.min(),
                        firstSealed: old?.firstSealed ?? k.firstSealed, seals: seals, regions: regions)
                }
            }
            let sorted = rows.values.sorted { ($0.firstSealed ?? .distantPast, $0.id) < ($1.firstSealed ?? .distantPast, $1.id) }
            if json {
                print(try jsonString(sorted))
                return
            }
            print("DATA KEY                          ALG                  MASTER  FIRST SEALED          SEALS                              REGIONS")
            for r in sorted {
                let seals = r.seals.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                let regions = r.regions.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.joined(separator: "+")))" }.joined(separator: ", ")
                print(
                    r.id.padding(toLength: 34, withPad: " ", startingAt: 0) + r.algorithm.padding(toLength: 21, withPad: " ", startingAt: 0)
                        + (r.masterVersion.map { "v\($0)" } ?? "-").padding(toLength: 8, withPad: " ", startingAt: 0)
                        + (r.firstSealed.map { ISO8601DateFormatter().string(from: $0) } ?? "-").padding(toLength: 22, withPad: " ", startingAt: 0)
                        + (seals.isEmpty ? "nothing" : seals).padding(toLength: 35, withPad: " ", startingAt: 0) + regions)
            }
        }
    }
}

extension Leafguard.Keys {
    /// `leafguard keys change-key --new-key SOURCE`.
    struct ChangeKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "change-key",
            abstract: "Re-seal the keyring under a new key (file:PATH, env:VAR, passphrase-env:VAR or aws-kms:KEY) in the state folder and every region.",
            discussion: "For a key that may have leaked: afterwards the old key opens no keyring anywhere. Then set keys.master in "
                + "leafguard.yml to the new source, rotate, retire the old versions and re-encrypt (docs/keys.md, the leak playbook).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The new keyring key, written as keys.master will name it (a relative file: path is relative to leafguard.yml's folder).")
        var newKey: String

        func run() throws {
            let logger = global.logger()
            let config = try global.loadConfig()
            let keys = KeyManagement(deployment: openDeployment(config), logger: logger)
            // The same text goes into keys.master next, so a relative path means what it will mean there.
            var source = newKey
            if source.hasPrefix("file:") {
                source = "file:" + absolute(String(source.dropFirst(5)), relativeTo: (config.file as NSString).deletingLastPathComponent)
            }
            // The checkpoint comes with the next command: the configured key opens nothing now.
            try audited(config, action: "key.change", command: "keys change-key", objects: ["keyring"], checkpoint: false) {
                do { try keys.changeKey(to: source) } catch let e as KeyError where !e.isConfiguration { throw CommandFailure(e.message) }
            }
            print(
                "keyring re-sealed under \(newKey) in the state folder and every region; set 'keys.master: \(newKey)' in \(config.file) before the next command"
            )
        }
    }
}
