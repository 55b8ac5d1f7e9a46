internal import COpenSSL
import Foundation

/// HMAC-SHA-256 through OpenSSL (for AWS Signature Version 4).
public enum HMACSHA256 {
    /// HMAC-SHA-256 of `message` under `key`: 32 bytes.
    public static func mac(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        _ = out.withUnsafeMutableBufferPointer { o in
            HMAC(
                EVP_sha256(), key.baseAddress, Int32(key.count), message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, o.baseAddress, &length
            )
        }
        return out
    }

    /// HMAC-SHA-256 of a string's UTF-8 under `key`.
    public static func mac(key: [UInt8], message: String) -> [UInt8] {
        key.withUnsafeBytes { k in Array(message.utf8).withUnsafeBytes { mac(key: k, message: $0) } }
    }
}
