internal import CSodium
import Foundation

/// libsodium's `crypto_kdf` (BLAKE2b-based): derives independent subkeys from one
/// 32-byte key by a numeric id and an 8-character context.
public enum KDF {
    /// Bytes in a key-derivation master key.
    public static let keyLength = 32

    /// Derives a `length`-byte subkey. `context` must be exactly 8 ASCII bytes.
    public static func derive(from key: SecureBytes, id: UInt64, context: String, length: Int = 32) throws -> SecureBytes {
        Sodium.ready()
        let ctx = Array(context.utf8)
        guard ctx.count == 8 else { throw SodiumError.invalidLength(what: "KDF context", expected: 8, got: ctx.count) }
        guard key.count == keyLength else { throw SodiumError.invalidLength(what: "KDF key", expected: keyLength, got: key.count) }
        let sub = try SecureBytes(count: length)
        let rc: Int32 = sub.withUnsafeMutableBytes { s in
            key.withUnsafeBytes { k in
                ctx.withUnsafeBufferPointer { c in
                    nonNull(c.baseAddress).withMemoryRebound(to: CChar.self, capacity: 8) { cc in
                        crypto_kdf_derive_from_key(
                            bytePointer(s), length, id, cc,
                            bytePointer(k))
                    }
                }
            }
        }
        guard rc == 0 else { throw SodiumError.invalidLength(what: "subkey", expected: 32, got: length) }
        return sub
    }
}

/// Keyed BLAKE2b (`crypto_generichash`): object ids that reveal nothing without the key.
public enum KeyedHash {
    /// BLAKE2b of `data` under `key`, `length` bytes (16...64).
    public static func hash(_ data: UnsafeRawBufferPointer, key: SecureBytes, length: Int = 32) -> [UInt8] {
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBufferPointer { o in
            key.withUnsafeBytes { k in
                _ = crypto_generichash(
                    nonNull(o.baseAddress), length, data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    UInt64(data.count), k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count)
            }
        }
        return out
    }

    /// Keyed BLAKE2b of `data`: `length` bytes.
    public static func hash(_ data: [UInt8], key: SecureBytes, length: Int = 32) -> [UInt8] {
        data.withUnsafeBytes { hash($0, key: key, length: length) }
    }
}
