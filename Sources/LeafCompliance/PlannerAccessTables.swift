import Foundation
import LeafSQLite
import LeafTime

/// What the compliance rules need of the planner's account tables, read in one pass each
/// and kept compact: per user a status byte, a last-login time, a factor mask and a
/// classified credential; per (account, user) pair a role or a grant summary. Text columns
/// are compared as bytes and never become Strings.
struct PlannerAccessTables {
    enum Status: UInt8 { case active, invited, disabled, other }

    enum Role: UInt8 {
        case owner, coOwner, editor, viewer, executor, other
        var isOwner: Bool { self == .owner || self == .coOwner }
        var name: String {
            switch self {
            case .owner: return "owner"
            case .coOwner: return "co-owner"
            case .editor: return "editor"
            case .viewer: return "viewer"
            case .executor: return "executor"
            case .other: return "member"
            }
        }
    }

    enum HashKind: UInt8 { case none, argon2id, argon2i, bcrypt, legacySHA1, legacyMD5, legacyDigest }

    /// A user's password credential: the hash's kind and parameters (argon2id: m, t;
    /// bcrypt: cost in `m`; -1 where unreadable) and the policy it was set under.
    struct Credential {
        var hash = HashKind.none
        var m = -1, t = -1
        var policy: Int64 = 0
    }

    /// Maps ids to positions: an array when ids are dense (the usual INTEGER PRIMARY KEY),
    /// else a dictionary.
    struct IDIndex {
        private var direct: [Int32] = []
        private var sparse: [Int64: Int32] = [:]

        init(_ ids: [Int64]) {
            if let minID = ids.min(), let maxID = ids.max(), minID >= 0, maxID < Int64(max(4 * ids.count, 1024)) {
                direct = [Int32](repeating: -1, count: Int(maxID) + 1)
                for (i, id) in ids.enumerated() { direct[Int(id)] = Int32(i) }
            } else {
                sparse.reserveCapacity(ids.count)
                for (i, id) in ids.enumerated() { sparse[id] = Int32(i) }
            }
        }

        init() {}

        func callAsFunction(_ id: Int64) -> Int? {
            if !direct.isEmpty {
                guard id >= 0, id < Int64(direct.count) else { return nil }
                let i = direct[Int(id)]
                return i < 0 ? nil : Int(i)
            }
            return sparse[id].map(Int.init)
        }
    }

    struct Users {
        /// Bits of `factors`: a verified, enabled factor other than sms; a verified sms factor.
        static let strongFactor: UInt8 = 1, smsFactor: UInt8 = 2
        var ids: [Int64] = []
        var status: [Status] = []
        /// Seconds since 1970; NaN when never or unreadable.
        var lastLogin: [Double] = []
        var factors: [UInt8] = []
        var owns: [Bool] = []
        var credentials: [Credential] = []
        var count: Int { ids.count }
        var index = IDIndex()

        mutating func buildIndex() {
            index = IDIndex(ids)
            factors = [UInt8](repeating: 0, count: ids.count)
            owns = [Bool](repeating: false, count: ids.count)
            credentials = [Credential](repeating: Credential(), count: ids.count)
        }

        func index(of id: Int64) -> Int? { index(id) }
    }

    struct Pair: Hashable, Comparable {
        let account: Int64, user: Int64
        static func < (a: Pair, b: Pair) -> Bool { (a.account, a.user) < (b.account, b.user) }
    }

    struct Member { let account: Int64; let user: Int64; let role: Role }

    /// The grants one user holds in one account.
    struct GrantHolder {
        let account: Int64, user: Int64
        var count = 0
        /// The user's role in the account; nil when not a member.
        var role: Role?
        /// Write access, one bit per section in `sectionNames` order.
        var writeMask: UInt16 = 0
        /// Write access on section names outside the eight (the schema forbids them; kept anyway).
        var otherWrites: [String] = []
        var writesAllSections: Bool { writeMask & 0xff == 0xff }
        /// Sections with write access, in alphabetical order.
        var writeSections: [String] {
            var out = (0..<8).filter { writeMask & (1 << $0) != 0 }.map { sectionNames[$0].description }
            if !otherWrites.isEmpty { out = (out + otherWrites).sorted() }
            return out
        }
    }

    /// The eight sections, alphabetically (bit i of a write mask is `sectionNames[i]`).
    static let sectionNames: [StaticString] = ["contacts", "digital", "finances", "insurance", "legal", "medical", "property", "wishes"]

    struct Policies {
        struct Policy { let version: Int64; let length: Int64; let flags: [Bool]; let effective: Double }
        var all: [Policy] = []

        /// Versions weaker than the policy current at `asOf` (shorter, or lacking a flag it sets).
        func weakerThanCurrent(asOf: Date) -> Set<Int64> {
            let t = asOf.timeIntervalSince1970
            guard let current = all.filter({ $0.effective <= t }).max(by: { ($0.effective, $0.version) < ($1.effective, $1.version) }) else { return [] }
            return Set(all.filter { p in p.length < current.length || zip(p.flags, current.flags).contains { !$0 && $1 } }.map(\.version))
        }
    }

    var users = Users()
    var accountCount = 0
    var policies = Policies()
    /// Additional (non-owner) members of accounts that require MFA, by (account, user).
    var additionalMembersOfMFAAccounts: [Member] = []
    /// Every (account, user) pair holding grants, by (account, user).
    var grantHolders: [GrantHolder] = []
    var rowsRead: [String: Int] = [:]

    static func read(_ db: Database) throws -> PlannerAccessTables {
        var t = PlannerAccessTables()
        func seconds(_ s: Statement, _ col: Int) -> Double {
            guard s.columnType(col) != .null else { return .nan }
            return s.withColumnBytes(col) { raw in
                ComplianceScanner.fastISOSeconds(raw)
                    ?? Timestamp.parse(String(decoding: raw, as: UTF8.self))?.timeIntervalSince1970 ?? .nan
            }
        }
        func each(_ table: String, _ sql: String, _ body: (Statement) throws -> Void) throws {
            let s = try db.prepare(sql)
            var n = 0
            while try s.step() { n += 1; try body(s) }
            t.rowsRead[table] = n
        }
        func integer(_ s: Statement, _ col: Int) -> Int64? { s.columnType(col) == .integer ? s.int64(col) : nil }

        var accountIDs: [Int64] = []
        var accountRequiresMFA: [Bool] = []
        try each("accounts", "SELECT id, require_mfa FROM accounts") { s in
            guard let id = integer(s, 0) else { return }
            accountIDs.append(id); accountRequiresMFA.append(integer(s, 1) == 1)
        }
        t.accountCount = t.rowsRead["accounts"] ?? 0
        let accountIndex = IDIndex(accountIDs)
        func requiresMFA(_ a: Int64) -> Bool { accountIndex(a).map { accountRequiresMFA[$0] } ?? false }

        try each("users", "SELECT id, status, last_login_at FROM users ORDER BY id") { s in
            guard let id = integer(s, 0) else { return }
            t.users.ids.append(id)
            t.users.status.append(
                s.withColumnBytes(1) { b in
                    bytesEqual(b, "active") ? .active : bytesEqual(b, "invited") ? .invited : bytesEqual(b, "disabled") ? .disabled : .other
                })
            t.users.lastLogin.append(seconds(s, 2))
        }
        t.users.buildIndex()

        var members: [Member] = []
        try each("memberships", "SELECT account_id, user_id, role FROM memberships") { s in
            guard let a = integer(s, 0), let u = integer(s, 1), s.columnType(2) == .text else { return }
            let role: Role = s.withColumnBytes(2) { b in
                bytesEqual(b, "owner")
                    ? .owner
                    : bytesEqual(b, "co-owner")
                        ? .coOwner
                        : bytesEqual(b, "editor")
                            ? .editor
                            : bytesEqual(b, "viewer") ? .viewer : bytesEqual(b, "executor") ? .executor : .other
            }
            members.append(Member(account: a, user: u, role: role))
            if role.isOwner { if let i = t.users.index(of: u) { t.users.owns[i] = true } }
        }
        // Sorted by (account, user): the MFA rule lists in that order, and grants are
        // matched to roles by merging two sorted runs instead of hashing pairs.
        members.sort { ($0.account, $0.user) < ($1.account, $1.user) }
        t.additionalMembersOfMFAAccounts = members.filter { !$0.role.isOwner && requiresMFA($0.account) }

        try each("credentials", "SELECT user_id, password_hash, policy_version FROM credentials") { s in
            guard let u = integer(s, 0), let policy = integer(s, 2), s.columnType(1) == .text, let i = t.users.index(of: u) else { return }
            var c = s.withColumnBytes(1) { classify($0) }
            c.policy = policy
            t.users.credentials[i] = c
        }

        try each("mfa_factors", "SELECT user_id, kind, verified_at IS NOT NULL AND disabled_at IS NULL FROM mfa_factors") { s in
            guard s.int64(2) == 1, let u = integer(s, 0), let i = t.users.index(of: u) else { return }
            s.withColumnBytes(1) { b in
                if bytesEqual(b, "sms") {
                    t.users.factors[i] |= Users.smsFactor
                } else if bytesEqual(b, "totp") || bytesEqual(b, "webauthn") {
                    t.users.factors[i] |= Users.strongFactor
                }
            }
        }

        try each(
            "password_policies",
            "SELECT version, min_length, require_lower, require_upper, require_digit, require_symbol, effective_at FROM password_policies"
        ) { s in
            let effective = seconds(s, 6)
            guard let v = integer(s, 0), !effective.isNaN else { return }
            t.policies.all.append(.init(version: v, length: integer(s, 1) ?? 0, flags: (2...5).map { integer(s, $0) == 1 }, effective: effective))
        }

        struct GrantRow { let account: Int64; let user: Int64; let write: UInt16; let other: Int32 }
        var rows: [GrantRow] = []
        var otherNames: [String] = []
        try each("grants", "SELECT account_id, user_id, section, access FROM grants") { s in
            guard let a = integer(s, 0), let u = integer(s, 1), s.columnType(2) == .text, s.columnType(3) == .text else { return }
            var bit: UInt16 = 0
            var other: Int32 = -1
            if s.withColumnBytes(3, { bytesEqual($0, "write") }) {
                s.withColumnBytes(2) { b in
                    if let i = sectionNames.firstIndex(where: { bytesEqual(b, $0) }) {
                        bit = 1 << i
                    } else {
                        other = Int32(otherNames.count); otherNames.append(String(decoding: b, as: UTF8.self))
                    }
                }
            }
            rows.append(GrantRow(account: a, user: u, write: bit, other: other))
        }
        rows.sort { ($0.account, $0.user) < ($1.account, $1.user) }
        var m = 0
        for r in rows {
            if t.grantHolders.last.map({ $0.account != r.account || $0.user != r.user }) ?? true {
                while m < members.count && (members[m].account, members[m].user) < (r.account, r.user) { m += 1 }
                var h = GrantHolder(account: r.account, user: r.user)
                if m < members.count && members[m].account == r.account && members[m].user == r.user { h.role = members[m].role }
                t.grantHolders.append(h)
            }
            let last = t.grantHolders.count - 1
            t.grantHolders[last].count += 1
            t.grantHolders[last].writeMask |= r.write
            if r.other >= 0, !t.grantHolders[last].otherWrites.contains(otherNames[Int(r.other)]) {
                t.grantHolders[last].otherWrites.append(otherNames[Int(r.other)])
            }
        }
        return t
    }

    /// A password hash's kind and cost parameters, read from its bytes.
    static func classify(_ h: UnsafeRawBufferPointer) -> Credential {
        var c = Credential()
        if hasPrefix(h, "$argon2id$") {
            c.hash = .argon2id
            // m and t from the parameter segment: $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
            // Fields are separated by '$' and ','; a field "m=<digits>" or "t=<digits>" sets
            // the value (scanned in place: no array per hash).
            var start = 0
            for i in 0...h.count {
                guard i == h.count || h[i] == UInt8(ascii: "$") || h[i] == UInt8(ascii: ",") else { continue }
                if i - start >= 3, h[start + 1] == UInt8(ascii: "="), let value = decimal(h[(start + 2)..<i]) {
                    if h[start] == UInt8(ascii: "m") { c.m = value }
                    if h[start] == UInt8(ascii: "t") { c.t = value }
                }
                start = i + 1
            }
        } else if hasPrefix(h, "$argon2i$") {
            c.hash = .argon2i
        } else if hasPrefix(h, "$2a$") || hasPrefix(h, "$2b$") || hasPrefix(h, "$2y$") {
            c.hash = .bcrypt
            let rest = h[4...]
            c.m = decimal(rest.prefix { $0 != UInt8(ascii: "$") }) ?? -1
        } else {
            c.hash = hasPrefix(h, "sha1$") ? .legacySHA1 : hasPrefix(h, "md5$") ? .legacyMD5 : .legacyDigest
        }
        return c
    }
}

/// Whether `bytes` are exactly the UTF-8 of `text`.
@inline(__always)
func bytesEqual(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    guard bytes.count == text.utf8CodeUnitCount else { return false }
    guard let base = bytes.baseAddress else { return true }  // both empty
    return memcmp(base, text.utf8Start, bytes.count) == 0
}

private func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    guard bytes.count >= text.utf8CodeUnitCount else { return false }
    guard let base = bytes.baseAddress else { return true }  // an empty prefix of nothing
    return memcmp(base, text.utf8Start, text.utf8CodeUnitCount) == 0
}

/// A non-empty run of ASCII digits as an Int (nil for anything else or an overflow).
private func decimal<C: Collection<UInt8>>(_ bytes: C) -> Int? {
    guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
    var v = 0
    for b in bytes {
        guard b >= 48, b <= 57 else { return nil }
        v = v * 10 + Int(b - 48)
    }
    return v
}
