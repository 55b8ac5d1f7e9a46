import ArgumentParser
import Foundation
import LeafConfig
import LeafDeployment
import LeafRepository
import LeafTime

extension Leafguard {
    /// `leafguard unlock [--region R] [--force [--yes]] [--json]`.
    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove region locks whose holder is gone; name the ones still held.",
            discussion: """
                A lock of this host whose process is gone is removed at once; one older than \(Int(RegionLock.staleAfter / 3600)) h, \
                whoever held it, too. A lock of another host cannot be asked about: --force removes it after a confirmation \
                (--yes for scripts) - only when its run is known to be dead. A live holder on this host is named and kept.
                Example: leafguard unlock --config /etc/leafguard/leafguard.yml
                Exit status: 0 when no lock is left, 1 when one is still held, 2 when --force needs --yes.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this region (default: every region).") var region: String?
        @Flag(help: "Also remove fresh locks of other hosts (asks first, unless --yes).") var force = false
        @Flag(help: "Confirm --force without asking.") var yes = false
        @Flag(help: "Print a JSON array of locks and what was done.") var json = false

        struct Row: Encodable {
            let region: String
            let lock: String
            let kind: String
            let host: String
            let pid: Int32
            let created: String
            let action: String
            let reason: String
        }

        func run() throws {
            let config = try global.loadConfig()
            let deployment = openDeployment(config)
            if let region { try global.checkRegion(region, in: config) }
            let regions = region.map { [$0] } ?? config.regionNames
            var plan: [(region: String, repo: Repository, lock: RegionLock.Held, remove: Bool, reason: String)] = []
            for name in regions {
                let repo: Repository
                do { repo = try deployment.existingRepository(name) } catch RepositoryError.notInitialized { continue }
                for lock in try RegionLock.held(in: repo) {
                    if lock.stale {
                        plan.append((name, repo, lock, true, "older than \(Int(RegionLock.staleAfter / 3600)) h"))
                    } else if lock.alive == false {
                        plan.append((name, repo, lock, true, "its process on this host is gone"))
                    } else if lock.alive == true {
                        plan.append((name, repo, lock, false, "held by a running process (pid \(lock.pid) on this host)"))
                    } else {
                        plan.append(
                            (name, repo, lock, force, force ? "removed with --force" : "held by \(lock.host), which cannot be asked; --force removes it"))
                    }
                }
            }
            let forced = plan.filter { $0.lock.alive == nil && !$0.lock.stale && $0.remove }
            if !forced.isEmpty && !yes {
                let list = forced.map {
                    "\($0.region): \($0.lock.kind.rawValue) lock of \($0.lock.host) pid \($0.lock.pid) since \(Timestamp.string($0.lock.created))"
                }
                try confirm(
                    "remove \(forced.count) lock(s) of other hosts, whose runs must be dead?\n  " + list.joined(separator: "\n  "),
                    otherwise: "--force would remove \(forced.count) lock(s) of other hosts (\(list.joined(separator: "; "))); confirm with --yes",
                    declined: "nothing removed")
            }
            var rows: [Row] = []
            try audited(config, action: "lock.remove", command: "unlock", objects: plan.filter(\.remove).map { "\($0.region) \($0.lock.name)" }) {
                for (region, repo, lock, remove, reason) in plan {
                    var action = remove ? "removed" : "kept"
                    var why = reason
                    if remove {
                        let refused = RegionLock.remove(lock.name, in: repo)
                        if !refused.isEmpty { action = "kept"; why = "a location refused the removal: " + refused.joined(separator: "; ") }
                    }
                    rows.append(
                        Row(
                            region: region, lock: lock.name, kind: lock.kind.rawValue, host: lock.host, pid: lock.pid,
                            created: Timestamp.string(lock.created), action: action, reason: why))
                }
            }
            if json {
                print(try jsonString(rows))
            } else if rows.isEmpty {
                print("no region holds a lock")
            } else {
                for r in rows { print("\(r.region): \(r.action) \(r.kind) lock of \(r.host) pid \(r.pid) since \(r.created): \(r.reason)") }
            }
            if rows.contains(where: { $0.action == "kept" }) { throw ExitCode(1) }
        }
    }
}
