internal import CSodium
import Foundation

/// Ed25519 signatures (libsodium's `crypto_sign`): detached 64-byte signatures made with
/// a secret key held in wiped memory.
public enum Signature {
    /// Bytes in an Ed25519 public key.
    public static let publicKeyLength = 32
    /// Bytes in a detached signature.
    public static let signatureLength = 64
    /// Bytes in the seed a key pair is derived from.
    public static let seedLength = 32

    /// A key pair: the public key as bytes, the secret key in secure memory.
    public struct KeyPair: Sendable {
        /// The public half, safe to publish.
        public let publicKey: [UInt8]
        /// The secret half, in guarded memory.
        public let secretKey: SecureBytes
    }

    /// The key pair a 32-byte seed determines (the same seed always gives the same pair).
    public static func keyPair(seed: SecureBytes) throws -> KeyPair {
        _ = Sodium.ready()
        guard seed.count == seedLength else { throw SodiumError.invalidLength(what: "signing seed", expected: seedLength, got: seed.count) }
        var pk = [UInt8](repeating: 0, count: publicKeyLength)
        let sk = try SecureBytes(count: Int(crypto_sign_secretkeybytes()))
        let rc: Int32 = sk.withUnsafeMutableBytes { s in
            seed.withUnsafeBytes { d in
                crypto_sign_seed_keypair(&pk, bytePointer(s), bytePointer(d))
            }
        }
        guard rc == 0 else { throw SodiumError.invalidLength(what: "signing key", expected: 0, got: Int(rc)) }
        return KeyPair(publicKey: pk, secretKey: sk)
    }

    /// A detached signature of `message`.
    public static func sign(_ message: [UInt8], with pair: KeyPair) -> [UInt8] {
        _ = Sodium.ready()
        var sig = [UInt8](repeating: 0, count: signatureLength)
        pair.secretKey.withUnsafeBytes { s in
            message.withUnsafeBufferPointer { m in
                _ = crypto_sign_detached(&sig, nil, nonNull(m.baseAddress), UInt64(m.count), bytePointer(s))
            }
        }
        return sig
    }

    /// True when `signature` is `publicKey`'s signature of `message`.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        _ = Sodium.ready()
        guard signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        return message.withUnsafeBufferPointer { m in
            crypto_sign_verify_detached(signature, nonNull(m.baseAddress), UInt64(m.count), publicKey) == 0
        }
    }
}
