import Foundation
import LeafDigest
import LeafSQLite
import LeafSodium
import LeafState

/// The header of one activity seal: which rows it covers and how it links to the seal before.
public struct ActivitySealHeader: Codable, Sendable, Equatable {
    /// Always `leafguard-activity-seal-v1`.
    public var format = "leafguard-activity-seal-v1"
    /// The seal's number, from 1.
    public var seq: Int
    /// The first activity_log row id it covers.
    public var fromID: Int64
    /// The last activity_log row id it covers.
    public var toID: Int64
    /// Rows it covers.
    public var count: Int
    /// SHA-256 of the entries section (count × [row id, 8 bytes big-endian; leaf, 16 bytes]).
    public var entriesSHA256: String
    /// The head of the seal before (64 zeros for the first).
    public var prevHead: String
    /// SHA-256(prevHead ‖ entriesSHA256), both as hex text.
    public var head: String
    /// When it was made (ISO 8601).
    public var sealedAt: String
    /// The signing public key (hex).
    public var publicKey: String

    /// The seal's object name in the regions (`audit/activity/seal-NNNNNNNN`).
    public var name: String { "audit/activity/seal-\(String(format: "%08d", seq))" }
}

/// What sealing did.
public struct ActivitySealResult: Sendable {
    /// The seal's header as signed.
    public let header: ActivitySealHeader
    /// The seal file's bytes, as stored in the state folder and the regions.
    public let bytes: [UInt8]
}

/// What `verify-activity` found among sealed rows.
public struct ActivityVerification: Sendable {
    /// Seals checked.
    public var seals = 0
    /// Rows they cover.
    public var sealedRows = 0
    /// Sealed rows whose content changed since.
    public var changed: [Int64] = []
    /// Sealed rows no longer in the table.
    public var deleted: [Int64] = []
    /// Rows whose id lies within (or before) the sealed ranges but that no seal lists: inserted after sealing.
    public var inserted: [Int64] = []
    /// Problems with the seals themselves (signature, chain, a missing seal).
    public var sealProblems: [String] = []
    /// Whether every sealed row is as sealed and every seal verifies.
    public var intact: Bool { changed.isEmpty && deleted.isEmpty && inserted.isEmpty && sealProblems.isEmpty }
}

/// Seals the planner's `activity_log`: each new row's canonical encoding (docs/format.md)
/// is hashed; a seal lists (row id, leaf hash) for the rows added since the last seal, is
/// chained to the seal before and signed with the audit key.
public struct ActivitySealer: Sendable {
    /// `STATE/audit/activity`, where the seals are kept.
    public let directory: String
    /// The activity_log columns a row's canonical encoding covers, in order.
    public static let columns = "id, at, actor_id, account_id, action, target, ip, detail"
    /// The link of the first seal: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)
    static let entrySize = 24

    /// The seals of the state folder `stateDirectory`.
    public init(stateDirectory: String) { directory = StateLayout(stateDirectory).activitySeals }

    /// Seals rows with ids above the last sealed one; nil when there are none.
    public func seal(database path: String, signer: AuditSigner, at: Date = Date()) throws -> ActivitySealResult? {
        let last = try seals().last
        let db = try Database(path: "file:\(path)?mode=ro", mode: .readOnly)
        let lastID = last.map { $0.header.toID } ?? Int64.min
        var entries: [UInt8] = []
        var count = 0
        var first: Int64 = 0
        var lastRow: Int64 = 0
        try db.transaction("DEFERRED") {
            let s = try db.prepare("SELECT \(Self.columns) FROM activity_log WHERE id > ? ORDER BY id")
            try s.bind([.integer(lastID)])
            var hasher = RowHasher()
            while try s.step() {
                let id = s.int64(0)
                if count == 0 { first = id }
                lastRow = id
                count += 1
                Self.appendEntry(id: id, leaf: hasher.leaf(s), to: &entries)
            }
        }
        guard count > 0 else { return nil }
        let prevHead = last?.header.head ?? Self.genesis
        let entriesDigest = SHA256.hash(entries).hexString
        let header = ActivitySealHeader(
            seq: (last?.header.seq ?? 0) + 1, fromID: first, toID: lastRow, count: count,
            entriesSHA256: entriesDigest, prevHead: prevHead,
            head: SHA256.hash(Array((prevHead + entriesDigest).utf8)).hexString,
            sealedAt: ISO8601DateFormatter().string(from: at), publicKey: signer.publicKeyHex)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let json = [UInt8](try e.encode(header))
        let bytes = json + [0x0A] + Array((signer.sign(json).hexString + "\n").utf8) + entries
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/" + (header.name as NSString).lastPathComponent
        guard !FileManager.default.fileExists(atPath: file) else { throw AuditError("\(file) already exists; another seal ran at the same time") }
        try Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic)
        return ActivitySealResult(header: header, bytes: bytes)
    }

    struct LoadedSeal {
        let header: ActivitySealHeader
        let signedPart: [UInt8]
        let signature: [UInt8]?
        let entries: [UInt8]
    }

    /// Every seal file, in sequence order (unparseable files are reported by `verify`).
    func seals() throws -> [LoadedSeal] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("seal-") }.sorted()
        return names.compactMap { n in FileManager.default.contents(atPath: directory + "/" + n).flatMap { Self.parse([UInt8]($0)) } }
    }

    static func parse(_ bytes: [UInt8]) -> LoadedSeal? {
        guard let nl1 = bytes.firstIndex(of: 0x0A), let nl2 = bytes[(nl1 + 1)...].firstIndex(of: 0x0A) else { return nil }
        let json = Array(bytes[..<nl1])
        guard let header = try? JSONDecoder().decode(ActivitySealHeader.self, from: Data(json)) else { return nil }
        return LoadedSeal(
            header: header, signedPart: json, signature: [UInt8](hexString: String(decoding: bytes[(nl1 + 1)..<nl2], as: UTF8.self)),
            entries: Array(bytes[(nl2 + 1)...]))
    }

    /// Whether one stored copy of a seal is whole and signed by `publicKey` (its row list
    /// matches the signed hash): what verify asks of every location's copy.
    public static func isAuthenticCopy(_ bytes: [UInt8], name: String, publicKey: [UInt8]) -> Bool {
        isAuthenticCopy(bytes, name: name, publicKeys: [publicKey])
    }

    /// `isAuthenticCopy` under any of `publicKeys` (an audit key chain's).
    public static func isAuthenticCopy(_ bytes: [UInt8], name: String, publicKeys: [[UInt8]]) -> Bool {
        guard let s = parse(bytes), let sig = s.signature, signedByAny(sig, of: s.signedPart, publicKeys: publicKeys) else { return false }
        return s.header.name == name && SHA256.hash(s.entries).hexString == s.header.entriesSHA256 && s.entries.count == s.header.count * entrySize
    }

    /// Compares every sealed row with the database now, and checks the seals themselves.
    public func verify(database path: String, publicKey: [UInt8]) throws -> ActivityVerification {
        try verify(database: path, publicKeys: [publicKey])
    }

    /// `verify` accepting seals signed under any of `publicKeys` (an audit key chain's).
    public func verify(database path: String, publicKeys: [[UInt8]]) throws -> ActivityVerification {
        var v = ActivityVerification()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("seal-") }.sorted()
        var sealed: [(id: Int64, leaf: ArraySlice<UInt8>)] = []
        var prevHead = Self.genesis
        var covered: [ClosedRange<Int64>] = []
        for (i, name) in names.enumerated() {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name), let s = Self.parse([UInt8](data)) else {
                v.sealProblems.append("\(name): damaged, not a seal"); continue
            }
            let h = s.header
            guard let sig = s.signature, signedByAny(sig, of: s.signedPart, publicKeys: publicKeys) else {
                v.sealProblems.append("seal \(h.seq) (rows \(h.fromID)–\(h.toID)): not signed by this deployment's audit key"); continue
            }
            if h.seq != i + 1 { v.sealProblems.append("seal \(i + 1) is missing (found seal \(h.seq) in its place)") }
            if h.prevHead != prevHead { v.sealProblems.append("seal \(h.seq): does not follow the seal before it (a seal was removed or replaced)") }
            if SHA256.hash(s.entries).hexString != h.entriesSHA256 || s.entries.count != h.count * Self.entrySize {
                v.sealProblems.append("seal \(h.seq): its row list was altered")
                continue
            }
            prevHead = h.head
            covered.append(h.fromID...h.toID)
            v.seals += 1
            var o = 0
            while o < s.entries.count {
                var id: Int64 = 0
                for b in s.entries[o..<(o + 8)] { id = id << 8 | Int64(b) }
                sealed.append((id, s.entries[(o + 8)..<(o + 24)]))
                o += Self.entrySize
            }
        }
        v.sealedRows = sealed.count
        guard let maxID = covered.map(\.upperBound).max() else { return v }
        let db = try Database(path: "file:\(path)?mode=ro", mode: .readOnly)
        try db.transaction("DEFERRED") {
            let s = try db.prepare("SELECT \(Self.columns) FROM activity_log WHERE id <= ? ORDER BY id")
            try s.bind([.integer(maxID)])
            var hasher = RowHasher()
            var k = 0
            while try s.step() {
                let id = s.int64(0)
                while k < sealed.count && sealed[k].id < id { v.deleted.append(sealed[k].id); k += 1 }
                if k < sealed.count && sealed[k].id == id {
                    if !hasher.leaf(s).prefix(16).elementsEqual(sealed[k].leaf) { v.changed.append(id) }
                    k += 1
                } else if covered.contains(where: { $0.contains(id) }) || id < (covered.first?.lowerBound ?? id) {
                    v.inserted.append(id)
                }
            }
            while k < sealed.count { v.deleted.append(sealed[k].id); k += 1 }
        }
        return v
    }

    static func appendEntry(id: Int64, leaf: [UInt8], to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: id) >> UInt64(shift))) }
        out.append(contentsOf: leaf[0..<16])
    }
}

/// Hashes a row's canonical encoding: per column, a type byte (0 null, 1 integer, 2 real,
/// 3 text, 4 blob), then 8 big-endian bytes for numbers or a 4-byte big-endian length and
/// the bytes for text and blobs. The leaf is SHA-256 of that.
struct RowHasher: ~Copyable {
    var buffer: [UInt8] = []
    var sha = SHA256()

    init() { buffer.reserveCapacity(1024) }

    mutating func leaf(_ s: Statement) -> [UInt8] {
        buffer.removeAll(keepingCapacity: true)
        for i in 0..<8 {
            switch s.columnType(i) {
            case .null: buffer.append(0)
            case .integer: buffer.append(1); appendBE(UInt64(bitPattern: s.int64(i)), 8)
            case .real: buffer.append(2); appendBE(s.double(i).bitPattern, 8)
            case .text, .blob:
                buffer.append(s.columnType(i) == .text ? 3 : 4)
                s.withColumnBytes(i) { bytes in
                    appendBE(UInt64(bytes.count), 4)
                    buffer.append(contentsOf: bytes)
                }
            }
        }
        buffer.withUnsafeBytes { sha.update($0) }
        return sha.finish()
    }

    mutating func appendBE(_ v: UInt64, _ n: Int) {
        for k in stride(from: (n - 1) * 8, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: v >> UInt64(k))) }
    }
}
