import Foundation
import LeafDigest
import LeafState

#if canImport(Glibc)
    import Glibc
#endif

/// One audit entry: who did what, when, to which objects, and how it ended.
public struct AuditEntry: Codable, Sendable, Equatable {
    /// The entry's place in the log, from 1.
    public var seq: Int
    /// When it was recorded (ISO 8601 UTC, milliseconds).
    public var at: String
    /// The user leafguard ran as.
    public var user: String
    /// That user's id.
    public var uid: Int
    /// The host leafguard ran on.
    public var host: String
    /// The process's id.
    public var pid: Int
    /// The leafguard command (`run`, `tick`, `restore`, `keys init`, …).
    public var command: String
    /// e.g. `job.start`, `job.end`, `step`, `restore`, `key.create`, `scan`, `activity.seal`.
    public var action: String
    /// The job, for entries of a run.
    public var job: String?
    /// The step, for a step's entry.
    public var step: String?
    /// Snapshot ids, key versions, files written: what was touched.
    public var objects: [String]
    /// How it ended, e.g. `succeeded` or `failed` (`writing` for a snapshot about to be stored).
    public var outcome: String
    /// What a person needs to know beyond the outcome; empty when nothing.
    public var detail: String
    /// The hash of the entry before (64 zeros for the first).
    public var prev: String

    /// An entry to append: the log fills in its sequence number and link when it is written.
    public init(
        action: String, command: String, job: String? = nil, step: String? = nil, objects: [String] = [],
        outcome: String, detail: String = "", at: Date = Date()
    ) {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        seq = 0; self.at = f.string(from: at)
        user = ProcessInfo.processInfo.userName; uid = Int(getuid())
        host = ProcessInfo.processInfo.hostName; pid = Int(getpid())
        self.command = command; self.action = action; self.job = job; self.step = step
        self.objects = objects; self.outcome = outcome; self.detail = detail; prev = ""
    }
}

/// What `AuditLog.verify` found.
public struct AuditVerification: Sendable {
    /// Entries read.
    public var entries: Int
    /// The hash of the last entry.
    public var head: String
    /// Problems, first bad entry first; empty when the log is intact.
    public var problems: [String]
    /// The highest sequence number of a well-formed entry, and that entry's hash: what a
    /// checkpoint records (a damaged or inserted line is no entry, and is not counted).
    public var lastSequence = 0
    /// The hash of entry `lastSequence` (the genesis hash when there is none).
    public var lastSequenceHash = AuditLog.genesis
    /// Whether no problem was found.
    public var intact: Bool { problems.isEmpty }
}

/// leafguard's own audit log: JSON lines, each chained to the one before.
///
/// A line is the entry's JSON (sorted keys) with `"hash"` appended last; the hash is
/// SHA-256 over the previous entry's hash (hex), a newline, and the line's bytes up to that
/// field (see docs/format.md). Editing an entry breaks its hash; deleting, inserting or
/// reordering breaks the sequence numbers and links; cutting entries off the end is caught
/// by the signed checkpoints, which record the length and head hash.
public struct AuditLog: Sendable {
    /// `STATE/audit/audit.log`.
    public let path: String
    /// The link of the first entry: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// The log of the state folder `stateDirectory`.
    public init(stateDirectory: String) { path = StateLayout(stateDirectory).auditLog }

    /// Appends an entry, under a lock so concurrent leafguard processes keep one chain.
    @discardableResult
    public func append(_ entry: AuditEntry) throws -> AuditEntry {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw AuditError("cannot lock \(path)") }
        let (seq, prev) = try Self.lastLink(fd: fd)
        guard seq >= 0, seq < 1 << 53 else {
            throw AuditError("the audit log's last entry claims sequence number \(seq); the log was altered: run 'leafguard audit verify'")
        }
        var e = entry
        e.seq = seq + 1
        e.prev = prev
        let line = try Self.line(for: e)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw AuditError("cannot append to \(path): \(String(cString: strerror(errno)))") }
        fsync(fd)
        return e
    }

    /// What `repairTornTail` found at the end of the log.
    public enum TailState: Equatable {
        case intact
        case repaired(bytes: Int)
    }

    /// Checks the end of the log under the append lock: a last line without its newline
    /// (a write cut short) is truncated away; a last complete line that is not an entry, or
    /// a log that cannot be opened, throws naming the log.
    public func repairTornTail() throws -> TailState {
        let fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return .intact }
            throw AuditError("cannot open the audit log \(path): \(String(cString: strerror(errno))); nothing was done. Run 'leafguard audit verify'")
        }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw AuditError("cannot lock the audit log \(path)") }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return .intact }
        let chunk = Int(min(size, 1 << 16))
        var buffer = [UInt8](repeating: 0, count: chunk)
        guard buffer.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, chunk, off_t(size) - off_t(chunk)) }) == chunk else {
            throw AuditError("cannot read the end of the audit log \(path)")
        }
        var state = TailState.intact
        if buffer.last != UInt8(ascii: "\n") {
            guard let cut = buffer.lastIndex(of: UInt8(ascii: "\n")) ?? (size <= chunk ? -1 : nil) else {
                throw AuditError("the audit log \(path) ends in a line longer than 64 KiB; run 'leafguard audit verify'")
            }
            let keep = off_t(size) - off_t(chunk) + off_t(cut + 1)
            guard ftruncate(fd, keep) == 0 else { throw AuditError("cannot repair the audit log \(path): \(String(cString: strerror(errno)))") }
            fsync(fd)
            state = .repaired(bytes: Int(off_t(size) - keep))
            buffer = Array(buffer[0..<(cut + 1)])
        }
        if let last = buffer.split(separator: UInt8(ascii: "\n")).last, Self.parse(Array(last)) == nil {
            throw AuditError(
                "the audit log \(path)'s last line is not an entry (damaged or written by hand); nothing was done. Run 'leafguard audit verify' and restore the log from a copy"
            )
        }
        return state
    }

    /// The encoded line (with its newline) for an entry whose `seq` and `prev` are set.
    static func line(for entry: AuditEntry) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var body = [UInt8](try encoder.encode(entry))
        body.removeLast()  // the closing brace
        let hash = linkHash(prev: entry.prev, body: body)
        return body + Array(",\"hash\":\"\(hash)\"}\n".utf8)
    }

    static func linkHash(prev: String, body: [UInt8]) -> String {
        var h = SHA256()
        h.update(Array((prev + "\n").utf8))
        h.update(body)
        return h.finish().hexString
    }

    /// The last entry's sequence number and hash (0 and the genesis hash when empty).
    static func lastLink(fd: Int32) throws -> (Int, String) {
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return (0, genesis) }
        let chunk = min(Int(size), 1 << 16)
        var buffer = [UInt8](repeating: 0, count: chunk)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunk, off_t(size) - off_t(chunk)) }
        guard n == chunk else { throw AuditError("cannot read the end of the audit log") }
        var lines = buffer.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        guard let last = lines.popLast(), let parsed = parse(Array(last)) else {
            throw AuditError("the audit log's last line is damaged; run 'leafguard audit verify'")
        }
        return (parsed.entry.seq, parsed.hash)
    }

    /// An entry, its recorded hash and the bytes the hash covers; nil if the line is not an entry.
    /// Public only to the fuzz harness, through this SPI.
    @_spi(Fuzzing) public static func parse(_ line: [UInt8]) -> (entry: AuditEntry, hash: String, body: [UInt8])? {
        let suffixLength = ",\"hash\":\"".utf8.count + 64 + 2
        guard line.count > suffixLength, line.last == UInt8(ascii: "}") else { return nil }
        let body = Array(line[..<(line.count - suffixLength)])
        let hash = String(decoding: line[(line.count - 66)..<(line.count - 2)], as: UTF8.self)
        guard String(decoding: line[(line.count - suffixLength)..<(line.count - 66)], as: UTF8.self) == ",\"hash\":\"",
            let entry = try? JSONDecoder().decode(AuditEntry.self, from: Data(body + [UInt8(ascii: "}")])),
            // A sequence number no log reaches is not an entry (and would overflow below).
            (1..<(1 << 53)).contains(entry.seq)
        else { return nil }
        return (entry, hash, body)
    }

    /// Every well-formed line with its sequence number and bytes (with the newline), in file order.
    public func lines() throws -> [(seq: Int, bytes: [UInt8])] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return [UInt8](data).split(separator: UInt8(ascii: "\n")).compactMap { line in
            Self.parse(Array(line)).map { ($0.entry.seq, Array(line) + [UInt8(ascii: "\n")]) }
        }
    }

    /// The sequence number of a well-formed line, nil otherwise.
    public static func sequenceNumber(of line: [UInt8]) -> Int? { parse(line)?.entry.seq }

    /// Writes a log rebuilt from the regions where there is none (0600, synced).
    public static func writeRestored(_ bytes: [UInt8], to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count, fsync(fd) == 0 else { throw AuditError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    /// Every entry, in file order (damaged lines are skipped; `verify` names them).
    public func entries() throws -> [AuditEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return [UInt8](data).split(separator: UInt8(ascii: "\n")).compactMap { Self.parse(Array($0))?.entry }
    }

    /// Checks every link, and the log against the newest trusted checkpoint.
    public func verify(checkpoint: Checkpoint?) throws -> AuditVerification {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        if data.isEmpty && !FileManager.default.fileExists(atPath: path) && checkpoint == nil {
            return AuditVerification(entries: 0, head: Self.genesis, problems: [])
        }
        var problems: [String] = []
        var prev = Self.genesis
        var count = 0
        var expected = 1
        var lastSeq = 0
        var hashAtCheckpoint: String?
        // Links are checked by sequence number, so one moved entry is reported once.
        var hashes: [Int: String] = [0: Self.genesis]
        for (i, raw) in [UInt8](data).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if raw.isEmpty { continue }
            let lineNumber = i + 1
            count += 1
            guard let (entry, hash, body) = Self.parse(Array(raw)) else {
                problems.append("line \(lineNumber): not an audit entry (damaged, or inserted by hand)")
                prev = "?"
                continue
            }
            let seq = entry.seq
            if Self.linkHash(prev: entry.prev, body: body) != hash {
                problems.append("entry \(seq) (line \(lineNumber)): modified — its contents do not match its hash")
            } else if seq > expected {
                problems.append(
                    seq == expected + 1
                        ? "entry \(expected) is missing (deleted, or moved): line \(lineNumber) holds entry \(seq)"
                        : "entries \(expected)…\(seq - 1) are missing (deleted, or moved): line \(lineNumber) holds entry \(seq)")
            } else if seq < expected {
                problems.append("entry \(seq) (line \(lineNumber)): out of order or inserted — entry \(expected) was expected")
            } else if let before = hashes[seq - 1], entry.prev != before {
                problems.append("entry \(seq) (line \(lineNumber)): does not follow the entry before it — that entry was replaced, or this one inserted")
            }
            prev = hash
            hashes[seq] = hash
            expected = max(expected, seq + 1)
            lastSeq = max(lastSeq, seq)
            if let c = checkpoint, seq == c.length { hashAtCheckpoint = hash }
            if problems.count >= 50 { problems.append("… stopped after 50 problems"); break }
        }
        if let c = checkpoint {
            if lastSeq < c.length {
                problems.append("truncated: the signed checkpoint of \(c.at) records \(c.length) entries; the log ends at entry \(lastSeq)")
            } else if let h = hashAtCheckpoint, h != c.head, problems.isEmpty {
                problems.append("entries up to \(c.length) were rewritten: entry \(c.length) differs from the signed checkpoint of \(c.at)")
            }
        }
        var result = AuditVerification(entries: count, head: prev, problems: problems)
        result.lastSequence = lastSeq
        result.lastSequenceHash = hashes[lastSeq] ?? Self.genesis
        return result
    }
}

/// Why the audit log could not be read, written or trusted, naming the file.
public struct AuditError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// The line encoding, for tests that play an intruder rewriting the log.
public enum AuditLogTesting {
    /// The exact bytes `entry` is written as, hash and newline included.
    public static func line(_ entry: AuditEntry) throws -> [UInt8] { try AuditLog.line(for: entry) }
}
