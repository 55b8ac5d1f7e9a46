internal import COpenSSL
import Foundation

/// SHA-256 through OpenSSL's libcrypto, which uses the CPU's SHA extensions where
/// present (about 7x libsodium's portable SHA-256 on this machine).
public struct SHA256: ~Copyable {
    private let context: OpaquePointer

    /// Bytes in a digest.
    public static let digestLength = 32

    /// A new running digest.
    public init() {
        // Fails only when memory is exhausted, where every Swift allocation traps as well.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed") }  // house rule: out of memory
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Feeds `bytes` into the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    /// Feeds `bytes` into the digest.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Finishes and returns the 32-byte digest.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SHA256.digestLength)
        var len: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &len)
        return out
    }

    /// Returns the digest and starts over, for a hasher kept in a stored property.
    public mutating func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SHA256.digestLength)
        var len: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &len)
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
        return out
    }

    /// One-shot digest.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestLength)
        var len: UInt32 = 0
        EVP_Digest(bytes.baseAddress, bytes.count, &out, &len, EVP_sha256(), nil)
        return out
    }

    /// One-shot digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { hash($0) } }

    /// Streams a file through SHA-256 in 1 MiB reads.
    public static func hash(fileAt path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var h = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { h.update($0) }
        }
        return h.finalize()
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](); out.reserveCapacity(count * 2)
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a hexadecimal string (either case); nil if it is not one.
    public init?(hexString s: String) {
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }
}
