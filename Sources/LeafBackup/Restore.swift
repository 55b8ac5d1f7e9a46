import Foundation
import LeafArchive
import LeafDigest
import LeafRepository
import LeafSQLite

/// What a restore did and what it worked around.
public struct RestoreResult: Sendable {
    public let snapshot: SnapshotManifest
    public let files: Int
    public let bytes: Int64
    /// Shards that were missing or corrupt and were rebuilt from the others.
    public let repairedAround: [String]
    public let seconds: Double
}

/// Why a restore failed.
public struct RestoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Rebuilds a planner data directory from a snapshot.
public struct Restore: Sendable {
    public let repository: Repository
    public var workers = 2
    /// Copies of the repository (the other regions) to take shards from when this one
    /// cannot supply enough of a pack.
    public var otherRegions: [Repository] = []
    public let progress: @Sendable (String, Int64, Int64) -> Void

    public init(repository: Repository, progress: @escaping @Sendable (String, Int64, Int64) -> Void = { _, _, _ in }) {
        self.repository = repository; self.progress = progress
    }

    /// Restores `snapshot` into `target`, which must be empty unless `force` is set.
    public func run(_ snapshot: SnapshotManifest, to target: String, force: Bool) throws -> RestoreResult {
        let t0 = Date()
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: target), !existing.isEmpty, !force {
            throw RestoreError("\(target) is not empty; restore into an empty folder, or pass --force to overwrite the files the snapshot holds")
        }
        let index = try repository.loadIndex()
        let files = [snapshot.database] + snapshot.documents
        // Where every blob goes: (file, offset). Check everything is findable before writing anything.
        var targets: [BlobID: [(Int, Int64)]] = [:]
        var byPack: [ObjectID: Set<BlobID>] = [:]
        for (fi, f) in files.enumerated() {
            var offset: Int64 = 0
            for b in f.blobs {
                guard let pack = index.blobs[b], let entry = index.packs[pack] else {
                    throw RestoreError("snapshot \(snapshot.id.short) needs blob \(b.hex.prefix(16))… that no index lists; the repository is damaged (run verify)")
                }
                targets[b, default: []].append((fi, offset))
                byPack[pack, default: []].insert(b)
                offset += Int64(entry.blobs.first { $0.id == b }?.length ?? 0)
            }
        }
        // Create every file at its final size.
        do { try fm.createDirectory(atPath: target, withIntermediateDirectories: true) } catch {
            throw RestoreError("cannot create \(target): \(error.localizedDescription)")
        }
        let paths = files.map { target + "/" + $0.path }
        for (i, f) in files.enumerated() {
            try fm.createDirectory(atPath: (paths[i] as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw RestoreError("cannot create \(paths[i]): \(String(cString: strerror(errno)))") }
            let rc = ftruncate(fd, off_t(f.size))
            close(fd)
            guard rc == 0 else { throw RestoreError("cannot size \(paths[i]): \(String(cString: strerror(errno)))") }
        }
        let total = files.reduce(Int64(0)) { $0 + $1.size }
        let targetsByBlob = targets, blobsByPack = byPack
        let state = RestoreState()
        let packs = Array(byPack.keys)
        let queue = DispatchQueue(label: "leafguard.restore", attributes: .concurrent)
        let group = DispatchGroup()
        let slots = DispatchSemaphore(value: workers)
        for pid in packs {
            if state.failed { break }
            slots.wait()
            group.enter()
            queue.async {
                defer { slots.signal(); group.leave() }
                do {
                    guard let entry = index.packs[pid] else { return }
                    let (bytes, report) = try repository.readPack(entry, alsoFrom: otherRegions)
                    let wanted = blobsByPack[pid] ?? []
                    var written: Int64 = 0
                    try TarReader.forEachEntry(in: bytes) { name, data in
                        guard let id = BlobID(hex: name), wanted.contains(id) else { return }
                        let digest = SHA256.hash(data)
                        guard repository.blobID(sha256: digest) == id else {
                            throw RestoreError("blob \(name.prefix(16))… in pack \(pid.hex.prefix(16))… does not match its id")
                        }
                        // A one-blob document's digest is this blob's: it is checked here, not re-read later.
                        for (fi, _) in targetsByBlob[id] ?? [] where files[fi].blobs.count == 1 && fi > 0 {
                            if digest.hexString == files[fi].sha256 { state.verified(fi) } else {
                                throw RestoreError("\(files[fi].path) restored with SHA-256 \(digest.hexString), expected \(files[fi].sha256)")
                            }
                        }
                        for (fi, off) in targetsByBlob[id] ?? [] {
                            try pwriteAll(paths[fi], data, at: off)
                            written += Int64(data.count)
                        }
                    }
                    state.record(written: written, repaired: report.repaired)
                    progress("restore", state.bytes, total)
                } catch {
                    state.fail(error)
                }
            }
        }
        group.wait()
        if let e = state.error { throw e }

        // Check: every document's SHA-256, then the database.
        for (i, f) in files.enumerated() where i > 0 && !state.isVerified(i) {
            let digest = try SHA256.hash(fileAt: paths[i]).hexString
            guard digest == f.sha256 else { throw RestoreError("\(f.path) restored with SHA-256 \(digest), expected \(f.sha256)") }
        }
        let db = try Database(path: paths[0], mode: .readWrite)
        let check = try db.query("PRAGMA integrity_check").map { $0[0].text ?? "" }
        guard check == ["ok"] else { throw RestoreError("restored database fails integrity_check: \(check.prefix(5).joined(separator: "; "))") }
        for (table, expected) in snapshot.rowCounts {
            let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            let n = Int(try db.query("SELECT count(*) FROM \(quoted)")[0][0].int ?? -1)
            guard n == expected else { throw RestoreError("restored table \(table) has \(n) rows, the snapshot recorded \(expected)") }
        }
        return RestoreResult(snapshot: snapshot, files: files.count, bytes: total, repairedAround: state.repaired,
                             seconds: Date().timeIntervalSince(t0))
    }
}

final class RestoreState: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var bytes: Int64 = 0
    private(set) var repaired: [String] = []
    private(set) var error: (any Error)?
    private var verifiedFiles = Set<Int>()
    func verified(_ i: Int) { lock.lock(); verifiedFiles.insert(i); lock.unlock() }
    func isVerified(_ i: Int) -> Bool { lock.lock(); defer { lock.unlock() }; return verifiedFiles.contains(i) }
    var failed: Bool { lock.lock(); defer { lock.unlock() }; return error != nil }
    func record(written: Int64, repaired r: [String]) {
        lock.lock(); bytes += written; repaired += r; lock.unlock()
    }
    func fail(_ e: any Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}

func pwriteAll(_ path: String, _ data: [UInt8], at offset: Int64) throws {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw RestoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    let failure: String? = data.withUnsafeBytes { raw in
        while done < raw.count {
            let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; return String(cString: strerror(errno)) }
            done += n
        }
        return nil
    }
    if let failure { throw RestoreError("cannot write \(path): \(failure)") }
}
