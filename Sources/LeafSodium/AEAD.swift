internal import CSodium
import Foundation

/// The authenticated ciphers leafguard seals data with. The raw value is stored in
/// every sealed object's header, so each object records which one sealed it.
public enum AEADAlgorithm: UInt8, Sendable, CaseIterable, Codable {
    /// AES-256-GCM: 12-byte nonce, 16-byte tag. Needs AES-NI.
    case aes256gcm = 1
    /// XChaCha20-Poly1305 (IETF): 24-byte nonce, 16-byte tag. Used where the CPU lacks AES-NI.
    case xchacha20poly1305 = 2

    /// Bytes in a key.
    public static let keyLength = 32
    /// Bytes in the authentication tag after the ciphertext.
    public static let tagLength = 16

    /// Bytes in this algorithm's nonce.
    public var nonceLength: Int {
        switch self {
        case .aes256gcm: return 12
        case .xchacha20poly1305: return 24
        }
    }

    /// The algorithm's name in messages and formats.
    public var name: String {
        switch self {
        case .aes256gcm: return "AES-256-GCM"
        case .xchacha20poly1305: return "XChaCha20-Poly1305"
        }
    }

    /// AES-256-GCM where the CPU supports it, else XChaCha20-Poly1305.
    public static var preferred: AEADAlgorithm { Sodium.hasAESGCM ? .aes256gcm : .xchacha20poly1305 }
}

/// Sealing and opening with an AEAD under a 32-byte key held in `SecureBytes`.
public enum AEAD {
    /// Seals `plaintext`, binding `associatedData`; returns `prefix`, then the ciphertext,
    /// then the tag, in one allocation (callers put an object header in front).
    public static func seal(
        _ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], nonce: [UInt8],
        key: SecureBytes, algorithm: AEADAlgorithm, prefix: [UInt8] = []
    ) throws -> [UInt8] {
        Sodium.ready()
        try check(key: key, nonce: nonce, algorithm: algorithm)
        if algorithm == .aes256gcm && !Sodium.hasAESGCM { throw SodiumError.algorithmUnavailable(algorithm.name) }
        let outCount = prefix.count + plaintext.count + AEADAlgorithm.tagLength
        var out = [UInt8](unsafeUninitializedCapacity: outCount) { buf, n in
            prefix.withUnsafeBufferPointer { p in
                if p.count > 0, let target = buf.baseAddress, let source = p.baseAddress { target.update(from: source, count: p.count) }
            }
            n = outCount
        }
        var produced: UInt64 = 0
        let rc: Int32 = out.withUnsafeMutableBufferPointer { whole in
            let o = UnsafeMutableBufferPointer(rebasing: whole[prefix.count...])
            return associatedData.withUnsafeBufferPointer { ad in
                nonce.withUnsafeBufferPointer { n in
                    key.withUnsafeBytes { k in
                        let m = plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self)
                        let kp = bytePointer(k)
                        switch algorithm {
                        case .aes256gcm:
                            return crypto_aead_aes256gcm_encrypt(
                                nonNull(o.baseAddress), &produced, nonNull(m), UInt64(plaintext.count),
                                ad.baseAddress, UInt64(ad.count), nil, nonNull(n.baseAddress), kp)
                        case .xchacha20poly1305:
                            return crypto_aead_xchacha20poly1305_ietf_encrypt(
                                nonNull(o.baseAddress), &produced, nonNull(m), UInt64(plaintext.count),
                                ad.baseAddress, UInt64(ad.count), nil, nonNull(n.baseAddress), kp)
                        }
                    }
                }
            }
        }
        guard rc == 0 else { throw SodiumError.authenticationFailed }
        return out
    }

    /// Convenience for array input.
    public static func seal(
        _ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8],
        key: SecureBytes, algorithm: AEADAlgorithm
    ) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal($0, associatedData: associatedData, nonce: nonce, key: key, algorithm: algorithm) }
    }

    /// Opens ciphertext+tag; throws `authenticationFailed` unless key, nonce, data and
    /// associated data are exactly those sealed. Never returns unauthenticated bytes.
    public static func open(
        _ ciphertext: UnsafeRawBufferPointer, associatedData: [UInt8], nonce: [UInt8],
        key: SecureBytes, algorithm: AEADAlgorithm
    ) throws -> [UInt8] {
        Sodium.ready()
        try check(key: key, nonce: nonce, algorithm: algorithm)
        if algorithm == .aes256gcm && !Sodium.hasAESGCM { throw SodiumError.algorithmUnavailable(algorithm.name) }
        guard ciphertext.count >= AEADAlgorithm.tagLength else { throw SodiumError.authenticationFailed }
        var out = [UInt8](repeating: 0, count: ciphertext.count - AEADAlgorithm.tagLength)
        var produced: UInt64 = 0
        let rc: Int32 = out.withUnsafeMutableBufferPointer { o in
            associatedData.withUnsafeBufferPointer { ad in
                nonce.withUnsafeBufferPointer { n in
                    key.withUnsafeBytes { k in
                        let c = ciphertext.baseAddress?.assumingMemoryBound(to: UInt8.self)
                        let kp = bytePointer(k)
                        switch algorithm {
                        case .aes256gcm:
                            return crypto_aead_aes256gcm_decrypt(
                                nonNull(o.baseAddress), &produced, nil, nonNull(c), UInt64(ciphertext.count),
                                ad.baseAddress, UInt64(ad.count), nonNull(n.baseAddress), kp)
                        case .xchacha20poly1305:
                            return crypto_aead_xchacha20poly1305_ietf_decrypt(
                                nonNull(o.baseAddress), &produced, nil, nonNull(c), UInt64(ciphertext.count),
                                ad.baseAddress, UInt64(ad.count), nonNull(n.baseAddress), kp)
                        }
                    }
                }
            }
        }
        guard rc == 0 else {
            Sodium.wipe(&out)
            throw SodiumError.authenticationFailed
        }
        return out
    }

    /// Authenticates and decrypts `ciphertext` (ciphertext and tag); throws `authenticationFailed` for anything altered.
    public static func open(
        _ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8],
        key: SecureBytes, algorithm: AEADAlgorithm
    ) throws -> [UInt8] {
        try ciphertext.withUnsafeBytes { try open($0, associatedData: associatedData, nonce: nonce, key: key, algorithm: algorithm) }
    }

    /// Seals a secret (e.g. a data key) and returns ciphertext+tag; the plaintext never leaves protected memory.
    public static func sealSecret(
        _ secret: SecureBytes, associatedData: [UInt8], nonce: [UInt8],
        key: SecureBytes, algorithm: AEADAlgorithm
    ) throws -> [UInt8] {
        try secret.withUnsafeBytes { try seal($0, associatedData: associatedData, nonce: nonce, key: key, algorithm: algorithm) }
    }

    /// Opens a sealed secret straight into protected memory.
    public static func openSecret(
        _ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8],
        key: SecureBytes, algorithm: AEADAlgorithm
    ) throws -> SecureBytes {
        var plain = try open(ciphertext, associatedData: associatedData, nonce: nonce, key: key, algorithm: algorithm)
        return try SecureBytes(consuming: &plain)
    }

    private static func check(key: SecureBytes, nonce: [UInt8], algorithm: AEADAlgorithm) throws {
        guard key.count == AEADAlgorithm.keyLength else {
            throw SodiumError.invalidLength(what: "key", expected: AEADAlgorithm.keyLength, got: key.count)
        }
        guard nonce.count == algorithm.nonceLength else {
            throw SodiumError.invalidLength(what: "nonce", expected: algorithm.nonceLength, got: nonce.count)
        }
    }
}
