import Foundation
import LeafConcurrency
import LeafSodium
import LeafState

/// Why a master key could not be had. Never includes key bytes.
public struct KeyError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and what to do, in words for an operator.
    public let message: String
    /// True when the configuration is what is wrong (a variable not set, a key file
    /// missing or readable by others): exit status 2 rather than 1.
    public let isConfiguration: Bool
    /// An error saying `message`; `configuration` when leafguard.yml or the environment is at fault.
    public init(_ message: String, configuration: Bool = false) { self.message = message; self.isConfiguration = configuration }
    /// The message.
    public var description: String { message }
}

/// A versioned master key (key-encryption key). Data keys are wrapped under a subkey of it.
public struct MasterKey: Sendable, CustomStringConvertible {
    /// The version the keyring knows it by (1 until the first rotation).
    public let version: UInt32
    /// The 32 key bytes, in guarded memory.
    public let secret: SecureBytes

    /// The key `secret` as version `version`.
    public init(version: UInt32, secret: SecureBytes) {
        self.version = version; self.secret = secret
    }

    /// The subkey that wraps data keys: `crypto_kdf` id 1, context "lgkwrap1".
    public func wrappingKey() throws -> SecureBytes {
        try KDF.derive(from: secret, id: 1, context: "lgkwrap1")
    }

    /// The version only: printing a key never prints its bytes.
    public var description: String { "master key v\(version) <redacted>" }
}

/// Where a master key comes from, as written in `keys.master`.
public enum MasterKeySource: Sendable {
    case file(path: String)
    case environment(variable: String)
    /// A passphrase in an environment variable, stretched by Argon2id with the salt and
    /// limits the keyring file keeps (or, before there is one, `STATE/keys/passphrase.json`).
    case passphraseEnvironment(variable: String, stateDirectory: String)

    /// Loads the key. Files must be 0600 or stricter. A passphrase is stretched with
    /// `passphrase` when given (the parameters a keyring copy in a region records), else with
    /// those in the state folder.
    public func load(
        version: UInt32 = 1, passphrase given: PassphraseParameters? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> MasterKey {
        switch self {
        case .file(let path):
            if let attrs = try? FileManager.default.attributesOfItem(atPath: path),
                let mode = attrs[.posixPermissions] as? Int, mode & 0o077 != 0
            {
                throw KeyError("master key file \(path) has mode \(String(mode, radix: 8)); run 'chmod 600 \(path)'", configuration: true)
            }
            // read(2) into a buffer that is wiped once the key is in guarded memory.
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw KeyError("cannot read master key file \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var raw = [UInt8](repeating: 0, count: 128)
            defer { Sodium.wipe(&raw) }
            let n = raw.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n >= 0 else { throw KeyError("cannot read master key file \(path): \(String(cString: strerror(errno)))") }
            return MasterKey(version: version, secret: try raw.withUnsafeBytes { try Self.decode(UnsafeRawBufferPointer(rebasing: $0[0..<n]), origin: path) })
        case .environment(let variable):
            guard let value = environment[variable], !value.isEmpty else {
                throw KeyError("environment variable \(variable) is not set; it must hold the base64 of a 32-byte key", configuration: true)
            }
            return MasterKey(version: version, secret: try Self.decode(Data(value.utf8), origin: "$\(variable)"))
        case .passphraseEnvironment(let variable, let stateDirectory):
            let params =
                try given ?? Keyring.storedPassphraseParameters(stateDirectory: stateDirectory)
                ?? PassphraseParameters.loadOrCreate(at: StateLayout(stateDirectory).passphraseParameters)
            try params.check(source: "the passphrase parameters")
            return MasterKey(version: version, secret: try Self.derive(passphraseIn: variable, parameters: params, environment: environment))
        }
    }

    /// The key a passphrase in `variable` gives under `parameters` (Argon2id).
    public static func derive(
        passphraseIn variable: String, parameters params: PassphraseParameters,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SecureBytes {
        guard let value = environment[variable], !value.isEmpty else {
            throw KeyError("environment variable \(variable) is not set; it must hold the passphrase", configuration: true)
        }
        var pw = Array(value.utf8)
        defer { Sodium.wipe(&pw) }
        // One Argon2id run (256 MiB, about a second) per passphrase and parameters per
        // process: a command opens the keyring from several places.
        let cacheKey = try DerivedKeyCache.shared.key(password: pw, parameters: params)
        if let known = DerivedKeyCache.shared.lookup(cacheKey) { return known }
        let derived = try PasswordHash.derive(
            password: pw, salt: params.salt, opsLimit: params.opsLimit,
            memLimitKiB: params.memLimitKiB, variant: .argon2id)
        DerivedKeyCache.shared.store(derived, for: cacheKey)
        return derived
    }

    /// 32 raw bytes, or base64 of 32 bytes with optional trailing whitespace, decoded
    /// straight into guarded memory (no intermediate copy of the key).
    @_spi(Fuzzing) public static func decode(_ data: Data, origin: String) throws -> SecureBytes {
        var copy = data
        defer { Sodium.wipe(&copy) }
        return try copy.withUnsafeBytes { try decode($0, origin: origin) }
    }

    static func decode(_ input: UnsafeRawBufferPointer, origin: String) throws -> SecureBytes {
        if input.count == 32 { return try SecureBytes(copying: input) }
        var end = input.count
        while end > 0, [10, 13, 32, 9].contains(input[end - 1]) { end -= 1 }
        let failure = KeyError("\(origin) does not hold a 32-byte key (raw, or base64 of 44 characters)")
        guard end == 44, input[43] == UInt8(ascii: "="), input[42] != UInt8(ascii: "=") else { throw failure }
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): return 62
            case UInt8(ascii: "/"): return 63
            default: return nil
            }
        }
        let key = try SecureBytes(count: 32)
        try key.withUnsafeMutableBytes { out in
            var o = 0
            for group in 0..<11 {
                var acc: UInt32 = 0
                for j in 0..<4 {
                    let c = input[group * 4 + j]
                    if group == 10 && j == 3 { acc <<= 6; continue }  // the padding '='
                    guard let v = value(c) else { throw failure }
                    acc = acc << 6 | v
                }
                for b in 0..<3 where o < 32 { out[o] = UInt8(acc >> (16 - 8 * UInt32(b)) & 0xff); o += 1 }
                acc = 0
            }
        }
        return key
    }

    /// The parameters a passphrase deployment without a keyring file uses: the state
    /// folder's `keys/passphrase.json`, created with a fresh salt when missing.
    public static func storedOrNewPassphraseParameters(stateDirectory: String) throws -> PassphraseParameters {
        try Keyring.storedPassphraseParameters(stateDirectory: stateDirectory)
            ?? PassphraseParameters.loadOrCreate(at: StateLayout(stateDirectory).passphraseParameters)
    }

    /// Writes a fresh random 32-byte key to `path` with mode 0600, never replacing an existing file.
    public static func createKeyFile(at path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw KeyError(
                errno == EEXIST
                    ? "key file \(path) already exists; it is never overwritten" : "cannot create key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let key = try SecureBytes.random(count: 32)
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == 32, fsync(fd) == 0 else { throw KeyError("cannot write key file \(path): \(String(cString: strerror(errno)))") }
    }
}

/// Argon2id salt and limits for a passphrase-derived master key, kept beside the keyring.
public struct PassphraseParameters: Codable, Sendable {
    /// Argon2id's 16-byte salt.
    public let salt: [UInt8]
    /// Passes over the memory.
    public let opsLimit: Int
    /// Memory used, in KiB.
    public let memLimitKiB: Int

    /// A new random salt with libsodium's "moderate" limits: 3 passes over 256 MiB.
    public static func fresh() -> PassphraseParameters {
        PassphraseParameters(salt: Sodium.randomBytes(PasswordHash.saltLength), opsLimit: 3, memLimitKiB: 256 * 1024)
    }

    /// Throws unless the parameters are ones leafguard writes: a 16-byte salt, 1 to 16
    /// passes, 8 MiB to 4 GiB (values read from a file are checked before Argon2id runs).
    public func check(source: String) throws {
        guard salt.count == PasswordHash.saltLength, (1...16).contains(opsLimit), (8 * 1024...4 * 1024 * 1024).contains(memLimitKiB) else {
            throw KeyError("\(source): passphrase parameters out of range (salt \(salt.count) bytes, \(opsLimit) passes, \(memLimitKiB) KiB)")
        }
    }

    static func loadOrCreate(at path: String) throws -> PassphraseParameters {
        if let data = FileManager.default.contents(atPath: path) {
            let p = try JSONDecoder().decode(PassphraseParameters.self, from: data)
            try p.check(source: path)
            return p
        }
        let p = fresh()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try JSONEncoder().encode(p).write(to: URL(fileURLWithPath: path), options: .atomic)
        chmod(path, 0o600)
        return p
    }
}

/// Keys stretched from a passphrase in this process, by (parameters, a keyed hash of the
/// passphrase under a random key of this process): never the passphrase itself, and the
/// keys stay in guarded memory (SecureBytes) like every other secret.
final class DerivedKeyCache: Sendable {
    static let shared = DerivedKeyCache()
    private let keys = Locked<[[UInt8]: SecureBytes]>([:])
    private let hashKey = Locked<SecureBytes?>(nil)

    func key(password: [UInt8], parameters p: PassphraseParameters) throws -> [UInt8] {
        let hashKey = try self.hashKey.withLock { k in
            if k == nil { k = try SecureBytes.random(count: 32) }
            guard let k else { throw KeyError("cannot key the derivation cache") }
            return k
        }
        var input = p.salt + Array("\(p.opsLimit):\(p.memLimitKiB):".utf8) + password
        defer { Sodium.wipe(&input) }
        return KeyedHash.hash(input, key: hashKey)
    }

    func lookup(_ key: [UInt8]) -> SecureBytes? { keys.withLock { $0[key] } }
    func store(_ value: SecureBytes, for key: [UInt8]) { keys.withLock { $0[key] = value } }
}
