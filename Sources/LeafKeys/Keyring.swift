import Foundation
import LeafSodium
import LeafState
import LeafTime

/// A master-key version's lifecycle.
public enum KeyState: String, Sendable, Codable {
    /// Wraps new data keys (exactly one version is active).
    case active
    /// Still unwraps data keys it wrapped; wraps nothing new.
    case decryptOnly = "decrypt-only"
    /// Unwraps nothing; its material is wiped once the grace period ends.
    case retired
}

/// One version as the keyring file records it.
public struct KeyVersionRecord: Sendable, Codable, Equatable {
    /// The master-key version this record is about.
    public var version: UInt32
    /// Active (wraps new data keys), decrypt-only, or retired.
    public var state: KeyState
    /// When the version was made.
    public var created: Date
    /// When a newer version replaced it as the active one.
    public var rotated: Date?
    /// When it was retired: no data key is wrapped by it any more.
    public var retired: Date?
    /// When a retired version's material is removed from the file.
    public var wipeAfter: Date?
    /// The version's 32-byte secret sealed under the keyring key (XChaCha20-Poly1305, the
    /// version number as associated data): nonce ‖ ciphertext ‖ tag, base64. Nil once wiped.
    public var sealed: String?
}

/// The master keys leafguard holds, by version: what `keys.master` unlocks.
///
/// The configured key source (file, env, passphrase) is the *keyring key*. With no keyring
/// file, it is itself master-key version 1 (a deployment before its first rotation). The
/// first rotation writes `STATE/keys/keyring.json` (mode 0600, written atomically) holding
/// version 1 and the new version 2, each sealed under a subkey of the keyring key. The file
/// also keeps the audit-signing seed and, for a passphrase, its Argon2id salt and limits, so
/// that a new passphrase re-seals this one file only, in one atomic rename: no data key,
/// no repository object and no audit signature changes.
public struct Keyring: Sendable {
    /// The keyring file in the state folder.
    public let path: String
    /// Every version the keyring holds.
    public private(set) var records: [KeyVersionRecord]
    private var secrets: [UInt32: SecureBytes]
    private var unlock: SecureBytes
    /// The seed of the audit-signing key (see `AuditSigner`).
    public private(set) var auditSeed: SecureBytes
    /// The seeds the audit key had before, oldest first: their public keys still verify
    /// what they signed, and their segment keys still open the log segments sealed then.
    /// `renewAuditSeed` (the leak playbook's `change-key`) moves the current seed here.
    public private(set) var previousAuditSeeds: [SecureBytes] = []
    /// The Argon2id parameters the keyring key was derived with, when it is a passphrase.
    public private(set) var passphrase: PassphraseParameters?
    /// KMS's ciphertext of the keyring key, when it is an AWS KMS data key.
    public private(set) var kms: KMSWrapping?
    /// How many times the file was saved: copies with a lower generation are out of date.
    public private(set) var generation: UInt64
    /// The file's bytes as last read or saved: what every region's `keyring` object holds.
    public private(set) var savedBytes: [UInt8] = []
    /// Copies that did not open, each with its reason (for verify and for a warning).
    public let rejected: [String]
    /// The generation of every copy that authenticated, by its source.
    public private(set) var authenticCopies: [String: UInt64] = [:]

    /// Where the state folder keeps the keyring.
    public static func path(stateDirectory: String) -> String { StateLayout(stateDirectory).keyring }

    /// Opens the keyring with the key the configured source gives, from the newest copy that
    /// authenticates: the state folder's file (a cache) or any of `copies` (the `keyring`
    /// object in every location of every region). A copy that fails is skipped and named in
    /// `rejected`; the keyring does not open only when no copy does. When a region's copy is
    /// newer than the state file, the state file is rewritten from it. With no copy anywhere
    /// the configured key is version 1 itself (generation 0, nothing saved yet).
    public static func open(
        stateDirectory: String, keyringKey: MasterKey, copies: [KeyringCopy] = [],
        passphrase: PassphraseParameters? = nil, kms: KMSWrapping? = nil, now: Date = Date()
    ) throws -> Keyring {
        let path = path(stateDirectory: stateDirectory)
        let seed = try KDF.derive(from: keyringKey.secret, id: 1, context: "lgaudit1")
        var candidates = copies
        let local = FileManager.default.contents(atPath: path).map { KeyringCopy(source: path, bytes: [UInt8]($0)) }
        if let local { candidates.insert(local, at: 0) }
        guard !candidates.isEmpty else {
            return Keyring(
                path: path, records: [KeyVersionRecord(version: 1, state: .active, created: now)],
                secrets: [1: keyringKey.secret], unlock: keyringKey.secret, auditSeed: seed, passphrase: passphrase, kms: kms,
                generation: 0, rejected: [])
        }
        let sealing = try KDF.derive(from: keyringKey.secret, id: 2, context: "lgkring1")
        let macKey = try KDF.derive(from: keyringKey.secret, id: 3, context: "lgkring1")
        var best: (file: KeyringFile, copy: KeyringCopy)?
        var rejected: [String] = []
        // Copies whose MAC fails: with a wrong key that is every copy, said once with their names.
        var unauthenticated: [String] = []
        var accepted: [String: UInt64] = [:]
        for c in candidates {
            do {
                let file = try readFile(c.source, Data(c.bytes))
                try file.authenticate(source: c.source, key: macKey, legacyAllowed: c.source == path)
                accepted[c.source] = file.generation ?? 0
                if best.map({ file.generation ?? 0 > $0.file.generation ?? 0 }) ?? true { best = (file, c) }
            } catch let e as UnauthenticatedCopy {
                unauthenticated.append(e.source)
            } catch { rejected.append("\(error)") }
        }
        guard let (file, chosen) = best else {
            var reasons: [String] = []
            if !unauthenticated.isEmpty {
                reasons.append(
                    "\(unauthenticated.count == candidates.count ? "none of its \(candidates.count) copies" : "\(unauthenticated.count) copies") "
                        + "authenticates with it (\(unauthenticated.joined(separator: ", ")))")
            }
            throw KeyError(
                "the keyring does not open with the configured key (wrong key or passphrase, or every copy was altered): "
                    + (reasons + rejected).joined(separator: "; "))
        }
        let failure = KeyError("keyring \(chosen.source) does not open with the configured key (wrong key or passphrase, or the file was altered)")
        var secrets: [UInt32: SecureBytes] = [:]
        // Retired versions within their grace period still have material: it is opened too,
        // so that re-sealing the file keeps it, but `decryptable` never offers it.
        for r in file.versions where r.state != .retired || r.sealed != nil {
            guard let text = r.sealed else { throw KeyError("keyring \(chosen.source): version \(r.version) has no key material") }
            guard let secret = try? openSealed(text, associatedData: associatedData(r.version), key: sealing) else { throw failure }
            secrets[r.version] = secret
        }
        // Files written before the seed was kept here: it was derived from this same key.
        var auditSeed = seed
        if let text = file.auditSeed {
            guard let s = try? openSealed(text, associatedData: Array("leafguard keyring audit seed".utf8), key: sealing) else { throw failure }
            auditSeed = s
        }
        var previous: [SecureBytes] = []
        for text in file.previousAuditSeeds ?? [] {
            guard let s = try? openSealed(text, associatedData: previousSeedAssociatedData, key: sealing) else { throw failure }
            previous.append(s)
        }
        var ring = Keyring(
            path: path, records: file.versions, secrets: secrets, unlock: keyringKey.secret,
            auditSeed: auditSeed, passphrase: file.passphrase, kms: file.kms ?? kms, generation: file.generation ?? 0,
            // Outvoted copies are said one by one, loudly: another copy opened, so these were altered.
            rejected: unauthenticated.map { "\(UnauthenticatedCopy(source: $0))" } + rejected)
        ring.previousAuditSeeds = previous
        ring.authenticCopies = accepted
        ring.savedBytes = chosen.bytes
        if file.generation == nil {
            try ring.save()  // a file from before copies were kept in the regions: authenticated from now on
        } else if chosen.source != path {
            try ring.writeStateFile(chosen.bytes)  // the state folder is a cache of the newest copy
        }
        try ring.wipeExpired(now: now)
        return ring
    }

    /// The generation of a keyring copy when it authenticates under `keyringKey` (nil when it
    /// does not, or is not a keyring file).
    public static func authenticatedGeneration(of bytes: [UInt8], keyringKey: MasterKey) -> UInt64? {
        guard let macKey = try? KDF.derive(from: keyringKey.secret, id: 3, context: "lgkring1"),
            let file = try? readFile("copy", Data(bytes)), (try? file.authenticate(source: "copy", key: macKey, legacyAllowed: false)) != nil
        else { return nil }
        return file.generation ?? 0
    }

    /// Whether `bytes` is a keyring of the legacy format (v1: no MAC, no generation), which
    /// nothing authenticates.
    public static func isLegacy(_ bytes: [UInt8]) -> Bool {
        guard let file = try? KeyringFile.decoder.decode(KeyringFile.self, from: Data(bytes)) else { return false }
        return file.mac == nil && file.generation == nil
    }

    /// The generation a keyring copy claims (unauthenticated: for choosing what to read and
    /// what to refresh), nil when the bytes are not a keyring file.
    public static func claimedGeneration(_ bytes: [UInt8]) -> UInt64? {
        guard let file = try? KeyringFile.decoder.decode(KeyringFile.self, from: Data(bytes)) else { return nil }
        return file.generation ?? 0
    }

    /// The Argon2id salt and limits a keyring copy records (not secret: read before the key
    /// is derived; altered ones derive a key that opens nothing).
    public static func passphraseParameters(in bytes: [UInt8]) -> PassphraseParameters? {
        (try? KeyringFile.decoder.decode(KeyringFile.self, from: Data(bytes)))?.passphrase
    }

    /// KMS's ciphertext of the keyring key a keyring copy records (not secret: only KMS opens
    /// it; an altered one opens nothing, or a key under which the copy does not authenticate).
    public static func kmsWrapping(in bytes: [UInt8]) -> KMSWrapping? {
        (try? KeyringFile.decoder.decode(KeyringFile.self, from: Data(bytes)))?.kms
    }

    /// The Argon2id salt and limits stored in the keyring file, if it exists and holds them:
    /// read before the key is derived (they are not secret; altered ones derive a key that
    /// opens nothing).
    public static func storedPassphraseParameters(stateDirectory: String) throws -> PassphraseParameters? {
        let path = path(stateDirectory: stateDirectory)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try readFile(path, data).passphrase
    }

    static func readFile(_ path: String, _ data: Data) throws -> KeyringFile {
        guard data.count <= 1 << 20 else { throw KeyError("keyring \(path) is damaged: \(data.count) bytes, more than a keyring holds") }
        do { return try KeyringFile.decoder.decode(KeyringFile.self, from: data) } catch {
            throw KeyError("keyring \(path) is damaged: \(error.localizedDescription)")
        }
    }

    /// nonce ‖ ciphertext ‖ tag (XChaCha20-Poly1305), base64, of a 32-byte secret.
    static func openSealed(_ text: String, associatedData: [UInt8], key: SecureBytes) throws -> SecureBytes {
        guard let bytes = Data(base64Encoded: text), bytes.count == 24 + 32 + 16 else { throw KeyError("sealed key material is malformed") }
        let b = [UInt8](bytes)
        return try AEAD.openSecret(Array(b[24...]), associatedData: associatedData, nonce: Array(b[..<24]), key: key, algorithm: .xchacha20poly1305)
    }

    static func seal(_ secret: SecureBytes, associatedData: [UInt8], key: SecureBytes) throws -> String {
        let nonce = Sodium.randomBytes(24)
        let ct = try AEAD.sealSecret(secret, associatedData: associatedData, nonce: nonce, key: key, algorithm: .xchacha20poly1305)
        return Data(nonce + ct).base64EncodedString()
    }

    init(
        path: String, records: [KeyVersionRecord], secrets: [UInt32: SecureBytes], unlock: SecureBytes,
        auditSeed: SecureBytes, passphrase: PassphraseParameters?, kms: KMSWrapping? = nil, generation: UInt64, rejected: [String]
    ) {
        self.path = path; self.records = records; self.secrets = secrets; self.unlock = unlock
        self.auditSeed = auditSeed; self.passphrase = passphrase; self.kms = kms; self.generation = generation; self.rejected = rejected
    }

    /// Writes the keyring file as it is now (a deployment's first: before it, the configured
    /// key was version 1 without a file), so that it can be copied to the regions.
    public mutating func saveIfNew() throws {
        if generation == 0 { try save() }
    }

    /// Re-seals the keyring under a new keyring key (a new passphrase, or a new key file):
    /// one atomic rename of this file. Before the first rotation there is no file and the
    /// configured key is version 1 itself; the file is created then, holding version 1 under
    /// the new key, so nothing stored in any region changes either way.
    public mutating func changeKeyringKey(to newKey: SecureBytes, passphrase parameters: PassphraseParameters?, kms wrapping: KMSWrapping? = nil) throws {
        unlock = newKey
        passphrase = parameters
        kms = wrapping
        try save()
    }

    static func associatedData(_ version: UInt32) -> [UInt8] { Array("leafguard keyring v\(version)".utf8) }

    /// The associated data of every sealed previous audit seed.
    static let previousSeedAssociatedData = Array("leafguard keyring previous audit seed".utf8)

    /// Gives the audit key a fresh random seed; the current one becomes the newest previous
    /// seed. Not saved here: the caller saves (the leak playbook's `change-key` saves it with
    /// the new keyring key, so the copied key and keyring derive nothing signed or sealed
    /// after it).
    public mutating func renewAuditSeed() throws {
        previousAuditSeeds.append(auditSeed)
        auditSeed = try SecureBytes.random(count: 32)
    }

    /// The version that wraps new data keys (`open` checked that there is exactly one, with material).
    public var active: MasterKey {
        get throws {
            let actives = records.filter { $0.state == .active }
            guard actives.count == 1, let secret = secrets[actives[0].version] else {
                throw KeyError("keyring \(path) has \(actives.count) active versions; exactly one must be active")
            }
            return MasterKey(version: actives[0].version, secret: secret)
        }
    }

    /// Every version that may unwrap (active and decrypt-only).
    public var decryptable: [UInt32: MasterKey] {
        var out: [UInt32: MasterKey] = [:]
        for r in records where r.state != .retired { if let s = secrets[r.version] { out[r.version] = MasterKey(version: r.version, secret: s) } }
        return out
    }

    /// Makes a new random version active; the active one becomes decrypt-only.
    @discardableResult
    public mutating func rotate(now: Date = Date()) throws -> UInt32 {
        let next = (records.map(\.version).max() ?? 0) + 1
        for i in records.indices where records[i].state == .active {
            records[i].state = .decryptOnly
            records[i].rotated = now
        }
        records.append(KeyVersionRecord(version: next, state: .active, created: now))
        secrets[next] = try SecureBytes.random(count: 32)
        try save()
        return next
    }

    /// Retires a decrypt-only version: it unwraps nothing from now on and its material is
    /// wiped after `grace`. The caller checks that no data key needs it.
    public mutating func retire(_ version: UInt32, grace: TimeInterval, now: Date = Date()) throws {
        try checkRetirable(version)
        guard let i = records.firstIndex(where: { $0.version == version }) else { throw KeyError("there is no master-key version \(version)") }
        records[i].state = .retired
        records[i].retired = now
        records[i].wipeAfter = now.addingTimeInterval(grace)
        try save()
        try wipeExpired(now: now)
    }

    /// Throws unless `version` exists and is decrypt-only (the active one and retired ones
    /// cannot be retired).
    public func checkRetirable(_ version: UInt32) throws {
        guard let record = records.first(where: { $0.version == version }) else { throw KeyError("there is no master-key version \(version)") }
        switch record.state {
        case .active: throw KeyError("version \(version) is the active version; rotate first")
        case .retired: throw KeyError("version \(version) is already retired")
        case .decryptOnly: break
        }
    }

    /// Removes the material of retired versions whose grace period has ended.
    mutating func wipeExpired(now: Date) throws {
        var changed = false
        for i in records.indices
        where records[i].state == .retired && (records[i].wipeAfter ?? now) <= now
            && (records[i].sealed != nil || secrets[records[i].version] != nil)
        {
            records[i].sealed = nil
            secrets[records[i].version] = nil  // SecureBytes zeroes it on release
            changed = true
        }
        if changed { try save() }
    }

    /// Writes the file: every version's material sealed under the keyring key, the whole
    /// file authenticated, the generation one higher; to a temporary file (0600), synced,
    /// then renamed over the old one. `savedBytes` then holds what the regions must receive.
    mutating func save() throws {
        let sealing = try KDF.derive(from: unlock, id: 2, context: "lgkring1")
        var out = records
        for i in out.indices {
            out[i].created = out[i].created.wholeSeconds
            out[i].rotated = out[i].rotated?.wholeSeconds
            out[i].retired = out[i].retired?.wholeSeconds
            out[i].wipeAfter = out[i].wipeAfter?.wholeSeconds
            if let secret = secrets[out[i].version] {
                out[i].sealed = try Self.seal(secret, associatedData: Self.associatedData(out[i].version), key: sealing)
            } else if out[i].state != .retired {
                throw KeyError("version \(out[i].version) has no material in memory")
            } else {
                out[i].sealed = nil
            }
        }
        let seed = try Self.seal(auditSeed, associatedData: Array("leafguard keyring audit seed".utf8), key: sealing)
        var file = KeyringFile(generation: generation + 1, versions: out, auditSeed: seed, passphrase: passphrase)
        file.kms = kms
        if !previousAuditSeeds.isEmpty {
            file.previousAuditSeeds = try previousAuditSeeds.map { try Self.seal($0, associatedData: Self.previousSeedAssociatedData, key: sealing) }
        }
        try file.sign(key: try KDF.derive(from: unlock, id: 3, context: "lgkring1"))
        let data = [UInt8](try KeyringFile.encoder.encode(file))
        try writeStateFile(data)
        records = out
        generation += 1
        savedBytes = data
    }

    /// Replaces the state folder's keyring file with `data` (temporary file, fsync, rename).
    func writeStateFile(_ data: [UInt8]) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = path + ".tmp-\(getpid())"
        let fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw KeyError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == data.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KeyError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let dfd = Foundation.open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

/// One copy of the keyring file and where it was read (for messages).
public struct KeyringCopy: Sendable {
    /// Where it was read: `state` or a location's name.
    public let source: String
    /// The file's bytes as read, not yet authenticated.
    public let bytes: [UInt8]
    /// A copy read from `source`.
    public init(source: String, bytes: [UInt8]) { self.source = source; self.bytes = bytes }
}

extension Date {
    /// The instant without its fraction of a second: what ISO 8601 in the file keeps, so the
    /// authenticated encoding reads back the same.
    var wholeSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

struct KeyringFile: Codable {
    var format = "leafguard-keyring-v2"
    /// Counts the saves: the copy with the highest generation that authenticates is the keyring.
    /// Absent in files from before copies were kept in the regions (format v1).
    var generation: UInt64?
    var versions: [KeyVersionRecord]
    /// The audit-signing seed, sealed like a version's material.
    var auditSeed: String?
    /// Argon2id salt and limits, when the keyring key is a passphrase.
    var passphrase: PassphraseParameters?
    /// KMS's ciphertext of the keyring key, when it is an AWS KMS data key.
    var kms: KMSWrapping?
    /// The audit key's earlier seeds, oldest first, each sealed like a version's material
    /// (associated data `leafguard keyring previous audit seed`); absent until the first
    /// `change-key`.
    var previousAuditSeeds: [String]?
    /// BLAKE2b-256 keyed with `crypto_kdf(keyring key, id 3, "lgkring1")`, hex, over the
    /// file's members other than `mac` as compact JSON with sorted keys: every field is
    /// authenticated (docs/format.md gives the encoding; recover.py checks it).
    var mac: String?

    /// The bytes the MAC covers: `{"auditSeed":…,"format":…,…}` with no white space and
    /// slashes unescaped, exactly what Python's `json.dumps(sort_keys=True, separators=(",", ":"))` gives.
    func authenticatedBytes() throws -> [UInt8] {
        var copy = self
        copy.mac = nil
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return [UInt8](try e.encode(copy))
    }

    mutating func sign(key: SecureBytes) throws {
        mac = KeyedHash.hash(try authenticatedBytes(), key: key, length: 32).map { String(format: "%02x", $0) }.joined()
    }

    /// Checks the MAC (a file of format v1 has none and is accepted only from the state folder,
    /// once, to be re-saved with one) and the shape: versions unique, exactly one active.
    func authenticate(source: String, key: SecureBytes, legacyAllowed: Bool) throws {
        if let mac {
            let expected = KeyedHash.hash(try authenticatedBytes(), key: key, length: 32).map { String(format: "%02x", $0) }.joined()
            guard Sodium.constantTimeEqual(Array(mac.utf8), Array(expected.utf8)) else { throw UnauthenticatedCopy(source: source) }
        } else {
            guard legacyAllowed, format == "leafguard-keyring-v1", generation == nil else {
                throw KeyError("keyring \(source) is not authenticated (no mac); it was altered or is not leafguard's")
            }
        }
        guard Set(versions.map(\.version)).count == versions.count else { throw KeyError("keyring \(source) lists a version twice") }
        let active = versions.filter { $0.state == .active }.count
        guard active == 1 else { throw KeyError("keyring \(source) has \(active) active versions; exactly one must be active") }
        if let p = passphrase { try p.check(source: source) }
    }

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .timestamp
        return d
    }
}

/// A keyring copy whose MAC does not verify under the configured key.
struct UnauthenticatedCopy: Error, CustomStringConvertible {
    /// Where the copy came from: the state folder's file or a region's location.
    let source: String
    var description: String { "keyring \(source) does not authenticate with the configured key (wrong key or passphrase, or the file was altered)" }
}

/// An AWS KMS data key as leafguard keeps it: KMS's ciphertext of the keyring key, the KMS
/// key that made it and the encryption context it is bound to. Not secret: only KMS, for a
/// caller allowed to use the key, turns it back into the keyring key.
public struct KMSWrapping: Codable, Sendable, Equatable {
    /// The KMS key's ARN as KMS named it when it made the data key.
    public let keyId: String
    /// The ciphertext blob, base64.
    public let ciphertext: String
    /// The encryption context, given to KMS again to decrypt.
    public let context: [String: String]

    /// A wrapping with the given parts.
    public init(keyId: String, ciphertext: [UInt8], context: [String: String]) {
        self.keyId = keyId; self.ciphertext = Data(ciphertext).base64EncodedString(); self.context = context
    }

    /// The ciphertext blob's bytes; nil when it is not base64.
    public var ciphertextBytes: [UInt8]? { Data(base64Encoded: ciphertext).map([UInt8].init) }

    /// The wrapping `path` holds (the state folder's before the first keyring is saved); nil when absent.
    public static func read(_ path: String) -> KMSWrapping? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(KMSWrapping.self, from: $0) }
    }

    /// Writes the wrapping to `path` (0600, atomically).
    public func write(_ path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try e.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        chmod(path, 0o600)
    }
}
