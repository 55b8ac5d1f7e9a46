import Foundation
import LeafDigest
import LeafSQLite
import LeafSodium

/// What the generator wrote.
public struct GeneratedData: Sendable {
    /// The planner data directory written (planner.db and documents/).
    public let directory: String
    /// Accounts created.
    public let accounts: Int
    /// Users created: owners, co-owners and additional users.
    public let users: Int
    /// Document files written.
    public let documents: Int
    /// Their bytes in all.
    public let documentBytes: Int64
    /// Rows in the activity log.
    public let activityRows: Int
    /// planner.db's size after the writes, in bytes.
    public let databaseBytes: Int64
}

/// Writes a realistic planner data directory (shared/planner/schema.sql layout): accounts
/// with owners, co-owners and additional users, section grants, credentials under every
/// policy version (real Argon2id from libsodium among weaker Argon2, bcrypt and legacy
/// hashes), MFA factors of every kind and state, entries, documents, an activity log, and
/// compliance problems in realistic proportions. Deterministic for a given seed.
///
/// Sizes per account average about 14 documents (~230 KiB each) and 0.2 MB of database,
/// so 500 accounts make about 1.5 GB.
public struct PlannerDataGenerator: Sendable {
    /// How many accounts to create.
    public var accounts: Int
    /// The seed: the same seed gives the same data, byte for byte.
    public var seed: UInt64
    /// Every timestamp is at or before this instant.
    public var referenceDate: Date
    /// Scales document sizes (1 = realistic); tests use small values.
    public var documentScale: Double = 1
    /// Activity rows per account on average.
    public var activityPerAccount = 1300

    /// The default `referenceDate`: 2026-11-29T00:00:00Z.
    public static let defaultReferenceDate = Date(timeIntervalSince1970: 1_795_910_400)  // 2026-11-29T00:00:00Z

    /// A generator of `accounts` accounts from `seed`, every timestamp at or before `referenceDate`.
    public init(accounts: Int, seed: UInt64, referenceDate: Date = PlannerDataGenerator.defaultReferenceDate) {
        self.accounts = accounts; self.seed = seed; self.referenceDate = referenceDate
    }

    static let sections = ["finances", "insurance", "legal", "medical", "property", "contacts", "wishes", "digital"]
    static let firstNames = [
        "ana", "ben", "chloe", "david", "elena", "farid", "grace", "hiro", "ines", "jonas", "kate", "liam",
        "maria", "noah", "olivia", "pavel", "quinn", "rosa", "sam", "tara", "umar", "vera", "will", "yuki", "zoe",
    ]
    static let lastNames = [
        "garcia", "smith", "nguyen", "okafor", "muller", "rossi", "kowalski", "tanaka", "silva", "haddad",
        "johansson", "obrien", "patel", "dubois", "novak", "walker", "kim", "moreau", "costa", "ahmed",
    ]
    static let words = [
        "account", "policy", "beneficiary", "pension", "deed", "mortgage", "insurance", "will", "trust", "executor",
        "password", "doctor", "allergy", "funeral", "wishes", "savings", "broker", "property", "title", "contact",
        "number", "renewal", "premium", "statement", "annual", "review", "location", "safe", "key", "attorney",
        "guardian", "medication", "vault", "storage", "email", "subscription", "vehicle", "loan", "tax", "return",
    ]

    /// Writes planner.db and documents/ into `directory` (created if missing) and says what it wrote.
    public func generate(into directory: String) throws -> GeneratedData {
        var rng = SeededRandom(seed: seed)
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/documents", withIntermediateDirectories: true)
        let dbPath = directory + "/planner.db"
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: dbPath + suffix) }
        let db = try Database(path: dbPath)
        try db.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        try db.execute(PlannerSchema.sql.replacingOccurrences(of: "PRAGMA journal_mode = WAL;", with: ""))
        let ref = referenceDate.timeIntervalSince1970
        func iso(_ t: Double) -> String { isoFormatter.string(from: Date(timeIntervalSince1970: floor(t))) }
        func past(_ maxDays: Double, minDays: Double = 0) -> Double { ref - (minDays + rng.unit() * (maxDays - minDays)) * 86400 }

        var userCount = 0
        var documentCount = 0
        var activityCount = 0
        var documentBytes: Int64 = 0
        let hashes = try HashPool(rng: &rng)

        try db.transaction {
            // Password policies: the page's rule (12+, all four classes) is the current one.
            let policies: [(Int, Int, Int, Int, Int, Int, Double)] = [
                (1, 8, 1, 0, 0, 0, ref - 2400 * 86400), (2, 10, 1, 1, 1, 0, ref - 1400 * 86400), (3, 12, 1, 1, 1, 1, ref - 500 * 86400),
            ]
            for p in policies {
                try db.run(
                    "INSERT INTO password_policies VALUES (?,?,?,?,?,?,?)",
                    [
                        .integer(Int64(p.0)), .integer(Int64(p.1)), .integer(Int64(p.2)), .integer(Int64(p.3)),
                        .integer(Int64(p.4)), .integer(Int64(p.5)), .text(iso(p.6)),
                    ])
            }
            let insAccount = try db.prepare("INSERT INTO accounts VALUES (?,?,?,?,?)")
            let insUser = try db.prepare("INSERT INTO users VALUES (?,?,?,?,?)")
            let insMember = try db.prepare("INSERT INTO memberships VALUES (?,?,?,?,?)")
            let insGrant = try db.prepare("INSERT OR IGNORE INTO grants VALUES (?,?,?,?)")
            let insCred = try db.prepare("INSERT INTO credentials VALUES (?,?,?,?)")
            let insFactor = try db.prepare("INSERT INTO mfa_factors (user_id, kind, created_at, verified_at, disabled_at) VALUES (?,?,?,?,?)")
            let insEntry = try db.prepare("INSERT INTO entries (account_id, section, title, body, updated_by, updated_at) VALUES (?,?,?,?,?,?)")
            let insDoc = try db.prepare(
                "INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_by, uploaded_at) VALUES (?,?,?,?,?,?,?,?)")
            let insActivity = try db.prepare("INSERT INTO activity_log (at, actor_id, account_id, action, target, ip, detail) VALUES (?,?,?,?,?,?,?)")
            func exec(_ s: Statement, _ v: [SQLiteValue]) throws { s.reset(); try s.bind(v); while try s.step() {} }

            var advisors: [Int64] = []  // users who help several families
            func newUser(owner: Bool) throws -> Int64 {
                userCount += 1
                let id = Int64(userCount)
                let name = "\(rng.pick(Self.firstNames)).\(rng.pick(Self.lastNames))"
                let r = rng.unit()
                let status = owner ? (r < 0.96 ? "active" : "disabled") : (r < 0.86 ? "active" : (r < 0.95 ? "invited" : "disabled"))
                let created = past(2000, minDays: 30)
                var lastLogin: SQLiteValue = .null
                if status != "invited" {
                    let d = rng.unit()
                    // Most log in within weeks; some are dormant past the 180-day line; a few never.
                    if d < 0.75 { lastLogin = .text(iso(past(60))) } else if d < 0.95 { lastLogin = .text(iso(past(700, minDays: 181))) }
                }
                try exec(insUser, [.integer(id), .text("\(name)\(id)@example.org"), .text(status), .text(iso(created)), lastLogin])
                // Credentials: most current argon2id; older hashes linger for users who never reset.
                if status != "invited" && !rng.chance(0.015) {
                    let h = rng.unit()
                    let hash: String
                    if h < 0.70 {
                        hash = rng.pick(hashes.strongArgon2id)
                    } else if h < 0.78 {
                        hash = rng.pick(hashes.weakArgon2id)
                    } else if h < 0.83 {
                        hash = rng.pick(hashes.argon2i)
                    } else if h < 0.90 {
                        hash = HashPool.bcrypt(cost: rng.chance(0.6) ? 12 : 10, rng: &rng)
                    } else if h < 0.95 {
                        hash = HashPool.bcrypt(cost: 13, rng: &rng)
                    } else {
                        hash = HashPool.legacy(rng: &rng)
                    }
                    let pv = rng.unit() < 0.72 ? 3 : (rng.chance(0.5) ? 2 : 1)
                    try exec(insCred, [.integer(id), .text(hash), .text(iso(past(900))), .integer(Int64(pv))])
                }
                // MFA: owners adopt more often; some rely on SMS alone; some enrolled but never verified.
                let m = rng.unit()
                let adopt = owner ? 0.72 : 0.55
                if m < adopt {
                    let kinds = rng.chance(0.18) ? ["sms"] : (rng.chance(0.3) ? ["totp", "webauthn"] : [rng.chance(0.7) ? "totp" : "webauthn"])
                    for k in kinds {
                        let c = past(700)
                        try exec(insFactor, [.integer(id), .text(k), .text(iso(c)), .text(iso(c + 120)), .null])
                    }
                    if rng.chance(0.5) { try exec(insFactor, [.integer(id), .text("recovery_codes"), .text(iso(past(700))), .text(iso(past(700))), .null]) }
                } else if m < adopt + 0.08 {
                    try exec(insFactor, [.integer(id), .text("totp"), .text(iso(past(300))), .null, .null])
                } else if m < adopt + 0.13 {
                    let c = past(900, minDays: 200)
                    try exec(insFactor, [.integer(id), .text("totp"), .text(iso(c)), .text(iso(c + 60)), .text(iso(past(150)))])
                } else if m < adopt + 0.16 {
                    try exec(insFactor, [.integer(id), .text("recovery_codes"), .text(iso(past(500))), .text(iso(past(500))), .null])
                }
                return id
            }

            for a in 1...max(accounts, 1) {
                let aid = Int64(a)
                let plan = rng.unit() < 0.55 ? "family" : (rng.chance(0.75) ? "individual" : "advisor")
                let created = past(1800, minDays: 10)
                try exec(
                    insAccount,
                    [
                        .integer(aid), .text("\(rng.pick(Self.lastNames).capitalized) \(plan == "advisor" ? "Advisory" : "Family")"),
                        .text(plan), .integer(rng.chance(0.3) ? 1 : 0), .text(iso(created)),
                    ])
                let owner = try newUser(owner: true)
                try exec(insMember, [.integer(aid), .integer(owner), .text("owner"), .null, .text(iso(created))])
                var members: [(Int64, String)] = [(owner, "owner")]
                if rng.chance(0.35) {
                    let co = try newUser(owner: true)
                    try exec(insMember, [.integer(aid), .integer(co), .text("co-owner"), .integer(owner), .text(iso(past(900)))])
                    members.append((co, "co-owner"))
                }
                let extra = plan == "individual" ? rng.int(0...2) : rng.int(1...5)
                for _ in 0..<extra {
                    let uid: Int64
                    if !advisors.isEmpty && rng.chance(0.12) { uid = rng.pick(advisors) } else { uid = try newUser(owner: false) }
                    if members.contains(where: { $0.0 == uid }) { continue }
                    let role = rng.unit() < 0.4 ? "editor" : (rng.chance(0.6) ? "viewer" : "executor")
                    try exec(insMember, [.integer(aid), .integer(uid), .text(role), .integer(owner), .text(iso(past(800)))])
                    members.append((uid, role))
                    if plan == "advisor" || rng.chance(0.05) { advisors.append(uid) }
                    // Least privilege mostly holds: a few sections, write only for editors.
                    let broad = rng.chance(0.04)
                    let sections = broad ? Self.sections : Array(Self.sections.shuffled(using: &rng).prefix(rng.int(1...4)))
                    for s in sections {
                        var access = role == "editor" ? (rng.chance(0.6) ? "write" : "read") : "read"
                        if broad { access = "write" }
                        if role != "editor" && rng.chance(0.03) { access = "write" }
                        try exec(insGrant, [.integer(aid), .integer(uid), .text(s), .text(access)])
                    }
                }
                // A grant left behind after someone was removed from the account.
                if rng.chance(0.04) {
                    let stray = try newUser(owner: false)
                    try exec(insGrant, [.integer(aid), .integer(stray), .text(rng.pick(Self.sections)), .text("read")])
                }
                // Entries.
                for _ in 0..<rng.int(15...60) {
                    let section = rng.pick(Self.sections)
                    let body = (0..<rng.int(20...300)).map { _ in rng.pick(Self.words) }.joined(separator: " ")
                    try exec(
                        insEntry,
                        [
                            .integer(aid), .text(section), .text("\(rng.pick(Self.words).capitalized) \(rng.pick(Self.words))"),
                            .text(body), .integer(rng.pick(members).0), .text(iso(past(900))),
                        ])
                }
                // Documents.
                try fm.createDirectory(atPath: "\(directory)/documents/\(a)", withIntermediateDirectories: true)
                for d in 0..<rng.int(6...22) {
                    let doc = DocumentKind.random(&rng)
                    let size = max(512, min(12 << 20, Int(rng.logNormal(median: doc.medianBytes, sigma: 0.8) * documentScale)))
                    let bytes = doc.content(size: size, rng: &rng)
                    let blob = "\(a)/\(String(format: "%04d", d))-\(String(rng.next() & 0xffff_ffff, radix: 16)).\(doc.ext)"
                    let path = "\(directory)/documents/\(blob)"
                    guard fm.createFile(atPath: path, contents: Data(bytes)) else { throw DemoError("cannot write \(path)") }
                    let uploaded = past(1500)
                    var times = [timespec(tv_sec: Int(uploaded), tv_nsec: 0), timespec(tv_sec: Int(uploaded), tv_nsec: 0)]
                    utimensat(AT_FDCWD, path, &times, 0)
                    try exec(
                        insDoc,
                        [
                            .integer(aid), .text(rng.pick(Self.sections)), .text("\(rng.pick(Self.words))-\(rng.pick(Self.words)).\(doc.ext)"),
                            .text(blob), .integer(Int64(size)), .text(SHA256.hash(bytes).hexString),
                            .integer(rng.pick(members).0), .text(iso(uploaded)),
                        ])
                    documentCount += 1
                    documentBytes += Int64(size)
                }
                // Activity log.
                let actions = ["login", "view", "view", "view", "create", "update", "update", "delete", "export", "grant", "revoke", "mfa_enroll"]
                let n = max(1, Int(Double(activityPerAccount) * (0.5 + rng.unit())))
                var times = (0..<n).map { _ in past(720) }
                times.sort()
                for t in times {
                    let act = rng.pick(actions)
                    let target = act == "login" ? nil : "\(rng.chance(0.6) ? "entry" : "document"):\(rng.int(1...99999))"
                    try exec(
                        insActivity,
                        [
                            .text(iso(t)), .integer(rng.pick(members).0), .integer(aid), .text(act),
                            target.map { .text($0) } ?? .null,
                            .text("203.0.113.\(rng.int(1...254))"), .text(act == "update" ? "changed \(rng.pick(Self.words))" : ""),
                        ])
                    activityCount += 1
                }
            }
        }
        try db.execute("PRAGMA journal_mode = WAL")
        return GeneratedData(
            directory: directory, accounts: accounts, users: userCount, documents: documentCount,
            documentBytes: documentBytes, activityRows: activityCount,
            databaseBytes: Int64((try? fm.attributesOfItem(atPath: dbPath)[.size] as? Int) ?? 0))
    }
}

/// Why the demo could not be made, in words for an operator.
public struct DemoError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let message: String
    /// An error saying `m`.
    public init(_ m: String) { message = m }
    /// The message.
    public var description: String { message }
}

nonisolated(unsafe) let isoFormatter: ISO8601DateFormatter = {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    f.timeZone = TimeZone(identifier: "UTC")
    return f
}()

/// Kinds of uploaded documents, with realistic sizes and content.
enum DocumentKind {
    case pdf, jpeg, png, docx, text, csv

    static func random(_ rng: inout SeededRandom) -> DocumentKind {
        let r = rng.unit()
        if r < 0.45 { return .pdf }
        if r < 0.68 { return .jpeg }
        if r < 0.73 { return .png }
        if r < 0.83 { return .docx }
        if r < 0.95 { return .text }
        return .csv
    }

    var ext: String {
        switch self {
        case .pdf: return "pdf"
        case .jpeg: return "jpg"
        case .png: return "png"
        case .docx: return "docx"
        case .text: return "txt"
        case .csv: return "csv"
        }
    }

    var medianBytes: Double {
        switch self {
        case .pdf: return 130_000
        case .jpeg: return 420_000
        case .png: return 160_000
        case .docx: return 60_000
        case .text: return 18_000
        case .csv: return 40_000
        }
    }

    /// Compressed formats are mostly high-entropy bytes inside their real header and
    /// trailer; text is words.
    func content(size: Int, rng: inout SeededRandom) -> [UInt8] {
        switch self {
        case .text, .csv:
            var out = [UInt8]()
            out.reserveCapacity(size + 64)
            if self == .csv { out += Array("date,description,amount,account\n".utf8) }
            while out.count < size {
                let line =
                    self == .csv
                    ? "2026-\(String(format: "%02d", rng.int(1...12)))-\(String(format: "%02d", rng.int(1...28))),\(rng.pick(PlannerDataGenerator.words)) \(rng.pick(PlannerDataGenerator.words)),\(rng.int(1...99999)).\(rng.int(10...99)),\(rng.int(1000...9999))\n"
                    : (0..<rng.int(6...16)).map { _ in rng.pick(PlannerDataGenerator.words) }.joined(separator: " ") + ".\n"
                out += Array(line.utf8)
            }
            return Array(out.prefix(size))
        default:
            var out = rng.bytes(size)
            let head: [UInt8]
            let tail: [UInt8]
            switch self {
            case .pdf: head = Array("%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".utf8); tail = Array("\n%%EOF\n".utf8)
            case .jpeg: head = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0]; tail = [0xFF, 0xD9]
            case .png: head = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]; tail = Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
            default: head = [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]; tail = [0x50, 0x4B, 0x05, 0x06]
            }
            if size > head.count + tail.count {
                out.replaceSubrange(0..<head.count, with: head)
                out.replaceSubrange((size - tail.count)..<size, with: tail)
            }
            return out
        }
    }
}

/// Password hashes: a pool of real Argon2 strings from libsodium (computing one per user
/// would take minutes), plus bcrypt-format and legacy strings.
struct HashPool {
    let strongArgon2id: [String]
    let weakArgon2id: [String]
    let argon2i: [String]

    init(rng: inout SeededRandom) throws {
        func make(_ n: Int, ops: Int, memKiB: Int, variant: PasswordHash.Variant) throws -> [String] {
            try (0..<n).map { _ in
                try PasswordHash.phcString(password: rng.bytes(12), salt: rng.bytes(16), opsLimit: ops, memLimitKiB: memKiB, variant: variant)
            }
        }
        strongArgon2id = try make(6, ops: 2, memKiB: 19456, variant: .argon2id) + make(2, ops: 3, memKiB: 65536, variant: .argon2id)
        weakArgon2id = try make(3, ops: 1, memKiB: 8192, variant: .argon2id)
        argon2i = try make(2, ops: 3, memKiB: 4096, variant: .argon2i)
    }

    static let bcryptAlphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// The modular-crypt shape of bcrypt ($2b$<cost>$ + 53 characters).
    static func bcrypt(cost: Int, rng: inout SeededRandom) -> String {
        let body = (0..<53).map { _ in Character(UnicodeScalar(rng.pick(bcryptAlphabet))) }
        return "$\(rng.chance(0.8) ? "2b" : (rng.chance(0.5) ? "2a" : "2y"))$\(String(format: "%02d", cost))$" + String(body)
    }

    static func legacy(rng: inout SeededRandom) -> String {
        let r = rng.unit()
        let hex = rng.bytes(20).map { String(format: "%02x", $0) }.joined()
        if r < 0.4 { return "sha1$\(String(rng.next() & 0xffffff, radix: 16))$\(hex)" }
        if r < 0.7 { return "md5$\(String(rng.next() & 0xffffff, radix: 16))$\(hex.prefix(32))" }
        return String(hex.prefix(32))
    }
}
