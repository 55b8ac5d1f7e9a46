import Foundation
import LeafSodium
import LeafStorage

/// Region locks, so that prune never removes data a running backup is about to name.
/// A backup holds a shared lock, prune an exclusive one; each is a sealed object
/// `locks/<id>` in every location. Whoever finds the other kind after writing its own
/// removes its lock and gives up: at worst both give up, never both proceed.
public struct RegionLock: Sendable {
    /// `shared` for a backup (many at once), `exclusive` for prune and reencrypt.
    public enum Kind: String, Codable, Sendable { case shared, exclusive }
    struct Record: Codable {
        let kind: Kind; let host: String; let pid: Int32; let created: Date
        /// The holder's start time (clock ticks since boot, /proc/PID/stat field 22) and the
        /// boot it ran in: a pid reused by another process, or a reboot, is told apart.
        var start: UInt64?; var boot: String?
    }

    /// The lock object's id: it is `locks/<id>` in every location.
    public let id: ObjectID
    let repository: Repository

    /// Locks older than this are left over from a crashed process and are ignored.
    public static let staleAfter: TimeInterval = 6 * 3600

    /// Takes a lock of `kind` on the region; throws `locked`, after removing its own, when a live lock conflicts (an exclusive lock conflicts with any other).
    public static func acquire(_ kind: Kind, in repository: Repository, now: Date? = nil) throws -> RegionLock {
        let now = now ?? repository.clock.now
        let id = ObjectID.random()
        let record = Record(
            kind: kind, host: ProcessInfo.processInfo.hostName, pid: getpid(), created: now,
            start: ProcessIdentity.startTime(of: getpid()), boot: ProcessIdentity.bootID)
        let wrapping = try repository.master.wrappingKey()
        try store(record, id: id, in: repository)
        let lock = RegionLock(id: id, repository: repository)
        for other in repository.listReplicated(prefix: "locks/") where other != "locks/\(id.hex)" {
            guard let r = read(other, in: repository, wrapping: wrapping), now.timeIntervalSince(r.created) < staleAfter else { continue }
            // A lock of a process of this host that no longer exists (killed, crashed, or its
            // pid now another process's, or from before a reboot) is left over: removed now
            // rather than blocking the region until it goes stale.
            if r.host == record.host && r.pid != getpid() && !ProcessIdentity.isAlive(pid: r.pid, start: r.start, boot: r.boot) {
                remove(other, in: repository)
                continue
            }
            if kind == .exclusive || r.kind == .exclusive {
                lock.release()
                throw RepositoryError.locked(
                    region: repository.region, by: "\(r.kind.rawValue) lock of \(r.host) pid \(r.pid) since \(r.created) (\(other) in every location)")
            }
        }
        return lock
    }

    /// Stores a lock as process `pid` (started at `start`) of `host` (this one by default)
    /// would have: for tests that play a holder whose pid was reused, a live one, or one on
    /// another host.
    public static func plant(
        _ kind: Kind, pid: Int32, start: UInt64?, in repository: Repository, now: Date? = nil, host: String = ProcessInfo.processInfo.hostName
    ) throws {
        let record = Record(kind: kind, host: host, pid: pid, created: now ?? repository.clock.now, start: start, boot: ProcessIdentity.bootID)
        try store(record, id: ObjectID.random(), in: repository)
    }

    /// Seals `record` under the active version's wrapping key as `locks/<id>` in every location.
    private static func store(_ record: Record, id: ObjectID, in repository: Repository) throws {
        let json = [UInt8](try JSON.encoder.encode(record))
        let header = EnvelopeHeader(
            algorithm: .preferred, kind: .lock, objectID: id, keyID: .masterVersion(repository.master.version),
            plaintextLength: UInt64(json.count), nonce: Sodium.randomBytes(AEADAlgorithm.preferred.nonceLength))
        try repository.putReplicated("locks/\(id.hex)", try Envelope.seal(json, header: header, key: try repository.master.wrappingKey()))
    }

    /// The record of lock object `name`, from the first copy that opens under `wrapping`.
    private static func read(_ name: String, in repository: Repository, wrapping: SecureBytes) -> Record? {
        try? repository.readReplicated(name) { bytes -> Record in
            let h = try EnvelopeHeader.decode(bytes)
            return try JSON.decoder.decode(Record.self, from: Data(try Envelope.open(bytes, header: h, key: wrapping)))
        }
    }

    /// Removes the lock from every location it can reach; one left behind goes stale.
    public func release() { Self.remove("locks/\(id.hex)", in: repository) }

    /// A lock a region holds, as `leafguard unlock` judges it.
    public struct Held: Sendable {
        /// Its object name (`locks/<id>`).
        public let name: String
        /// Shared (a backup) or exclusive (prune, reencrypt).
        public let kind: Kind
        /// The holder's host and pid, and when it took the lock.
        public let host: String
        /// The holder's process id on `host`.
        public let pid: Int32
        /// When the lock was taken.
        public let created: Date
        /// On this host: whether the holder still runs (same boot, pid and start time);
        /// nil for a holder on another host, which cannot be asked.
        public let alive: Bool?
        /// Older than `staleAfter`: ignored by every acquirer already.
        public let stale: Bool
    }

    /// Every lock of the region that opens under its master key, oldest first.
    public static func held(in repository: Repository, now: Date? = nil) throws -> [Held] {
        let now = now ?? repository.clock.now
        let wrapping = try repository.master.wrappingKey()
        let host = ProcessInfo.processInfo.hostName
        return repository.listReplicated(prefix: "locks/").compactMap { name -> Held? in
            guard let r = read(name, in: repository, wrapping: wrapping) else { return nil }
            let alive = r.host == host ? ProcessIdentity.isAlive(pid: r.pid, start: r.start, boot: r.boot) : nil
            return Held(
                name: name, kind: r.kind, host: r.host, pid: r.pid, created: r.created, alive: alive, stale: now.timeIntervalSince(r.created) >= staleAfter)
        }.sorted { $0.created < $1.created }
    }

    /// Removes lock `name` from every location; the locations that refused, with reasons.
    @discardableResult
    public static func remove(_ name: String, in repository: Repository) -> [String] {
        var refused: [String] = []
        for loc in repository.locations {
            do { try loc.delete(name) } catch let e as StorageError where e.isAbsent {} catch { refused.append("\(error)") }
        }
        return refused
    }
}

/// Who a process is, beyond its pid: its start time and the boot it runs in (Linux /proc).
public enum ProcessIdentity {
    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    public static var bootID: String? {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Field 22 of /proc/PID/stat (after the parenthesised command name, which may hold spaces).
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Whether the process that recorded (`pid`, `start`, `boot`) still runs: same boot,
    /// pid alive, and (when recorded) the same start time.
    public static func isAlive(pid: Int32, start: UInt64?, boot: String?) -> Bool {
        if let boot, let now = bootID, boot != now { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        if let start, let actual = startTime(of: pid), actual != start { return false }
        return true
    }
}
