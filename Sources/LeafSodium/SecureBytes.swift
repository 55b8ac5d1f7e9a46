internal import CSodium
import Foundation

/// Secret bytes (keys, passphrases) kept in `sodium_malloc` memory: guarded pages,
/// never swapped where the OS allows it, and zeroed by `sodium_free` when released.
///
/// A secret is never a `[UInt8]`, `String` or `Data`, is not `Codable`, and prints
/// as `<redacted>`. Read it only through `withUnsafeBytes`.
///
/// `@unchecked Sendable` because it owns C memory the compiler cannot see into: the bytes
/// are filled by whoever creates the value (a KDF, a decryption, a file read), before it
/// is shared, and only read afterwards, and concurrent reads of unchanging memory are
/// safe; `sodium_free` runs in `deinit`, when no one else holds it.
public final class SecureBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let pointer: UnsafeMutableRawPointer
    /// The number of secret bytes.
    public let count: Int

    /// Allocates `count` zeroed bytes of protected memory.
    public init(count: Int) throws {
        Sodium.ready()
        guard let p = sodium_malloc(max(count, 1)) else { throw SodiumError.allocationFailed(bytes: count) }
        sodium_memzero(p, max(count, 1))
        self.pointer = p
        self.count = count
    }

    /// A fresh random secret of `count` bytes.
    public static func random(count: Int) throws -> SecureBytes {
        let s = try SecureBytes(count: count)
        randombytes_buf(s.pointer, count)
        return s
    }

    /// Copies `bytes` into protected memory. The caller wipes its own copy.
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws {
        try self.init(count: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 { pointer.copyMemory(from: base, byteCount: bytes.count) }
    }

    /// Decodes standard base64 (`+/`, padded) straight into protected memory, so the secret
    /// never exists decoded elsewhere; nil when `text` is not base64 of exactly `count` bytes.
    /// Backslashes are skipped (JSON may write `/` as `\/`).
    public static func decodingBase64(_ text: UnsafeRawBufferPointer, count: Int) -> SecureBytes? {
        guard let base = text.baseAddress, let out = try? SecureBytes(count: count) else { return nil }
        var length = 0
        let rc = sodium_base642bin(
            out.pointer.assumingMemoryBound(to: UInt8.self), count, base.assumingMemoryBound(to: CChar.self), text.count, "\\", &length, nil,
            sodium_base64_VARIANT_ORIGINAL)
        return rc == 0 && length == count ? out : nil
    }

    /// Copies `bytes` into protected memory and wipes the source array.
    public convenience init(consuming bytes: inout [UInt8]) throws {
        try self.init(count: bytes.count)
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress, src.count > 0 { pointer.copyMemory(from: base, byteCount: src.count) }
        }
        Sodium.wipe(&bytes)
    }

    deinit { sodium_free(pointer) }

    /// Reads the secret. The buffer must not escape the closure.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Writes the secret in place. The buffer must not escape the closure.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// Constant-time equality of two secrets.
    public func isEqual(to other: SecureBytes) -> Bool {
        count == other.count && sodium_memcmp(pointer, other.pointer, count) == 0
    }

    /// Never the bytes: printing a secret prints this.
    public var description: String { "<redacted>" }
    /// Never the bytes, in a debugger either.
    public var debugDescription: String { "<redacted>" }
}
