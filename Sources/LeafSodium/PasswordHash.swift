internal import CSodium
import Foundation

/// Argon2 through libsodium's `crypto_pwhash`.
public enum PasswordHash {
    /// Which Argon2 variant derives the key.
    public enum Variant: Sendable { case argon2id, argon2i }

    /// Bytes in a salt.
    public static let saltLength = 16

    /// Raw Argon2 output for `password` and `salt` (16 bytes) with `opsLimit` passes and
    /// `memLimitKiB` KiB of memory. libsodium always uses one lane (p=1).
    public static func derive(
        password: [UInt8], salt: [UInt8], opsLimit: Int, memLimitKiB: Int,
        variant: Variant = .argon2id, length: Int = 32
    ) throws -> SecureBytes {
        Sodium.ready()
        guard salt.count == saltLength else { throw SodiumError.invalidLength(what: "salt", expected: saltLength, got: salt.count) }
        let out = try SecureBytes(count: length)
        let alg = variant == .argon2id ? crypto_pwhash_ALG_ARGON2ID13 : crypto_pwhash_ALG_ARGON2I13
        let rc: Int32 = out.withUnsafeMutableBytes { o in
            password.withUnsafeBufferPointer { p in
                salt.withUnsafeBufferPointer { s in
                    nonNull(p.baseAddress).withMemoryRebound(to: CChar.self, capacity: max(p.count, 1)) { pc in
                        crypto_pwhash(
                            bytePointer(o), UInt64(length), pc, UInt64(p.count),
                            nonNull(s.baseAddress), UInt64(opsLimit), memLimitKiB * 1024, alg)
                    }
                }
            }
        }
        guard rc == 0 else { throw SodiumError.passwordHashingFailed }
        return out
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=1$salt$hash`) for a password, as applications store it.
    public static func phcString(
        password: [UInt8], salt: [UInt8], opsLimit: Int, memLimitKiB: Int,
        variant: Variant = .argon2id
    ) throws -> String {
        let h = try derive(password: password, salt: salt, opsLimit: opsLimit, memLimitKiB: memLimitKiB, variant: variant)
        let hashB64 = h.withUnsafeBytes { Data($0).base64EncodedString() }.replacingOccurrences(of: "=", with: "")
        let saltB64 = Data(salt).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let name = variant == .argon2id ? "argon2id" : "argon2i"
        return "$\(name)$v=19$m=\(memLimitKiB),t=\(opsLimit),p=1$\(saltB64)$\(hashB64)"
    }

    /// Verifies a PHC string made by libsodium or any Argon2 implementation with p=1.
    public static func verify(phc: String, password: [UInt8]) -> Bool {
        Sodium.ready()
        var pw = password
        defer { Sodium.wipe(&pw) }
        let rc: Int32 = phc.withCString { s in
            pw.withUnsafeBufferPointer { p in
                nonNull(p.baseAddress).withMemoryRebound(to: CChar.self, capacity: max(p.count, 1)) { pc in
                    crypto_pwhash_str_verify(s, pc, UInt64(p.count))
                }
            }
        }
        return rc == 0
    }
}
