internal import CSodium
import Foundation

/// Errors from libsodium, with what the caller can do about them.
public enum SodiumError: Error, Equatable, CustomStringConvertible {
    case initializationFailed
    case allocationFailed(bytes: Int)
    /// The ciphertext, its associated data or the key is wrong: the data was not opened.
    case authenticationFailed
    case invalidLength(what: String, expected: Int, got: Int)
    case algorithmUnavailable(String)
    case passwordHashingFailed

    /// What went wrong, in words for an operator.
    public var description: String {
        switch self {
        case .initializationFailed: return "libsodium could not be initialised"
        case .allocationFailed(let n): return "could not allocate \(n) bytes of protected memory"
        case .authenticationFailed: return "authentication failed: wrong key, or the data was altered"
        case .invalidLength(let what, let expected, let got): return "\(what) must be \(expected) bytes, got \(got)"
        case .algorithmUnavailable(let name): return "\(name) is not available on this CPU"
        case .passwordHashingFailed: return "password hashing failed (out of memory?)"
        }
    }
}

/// libsodium's one-time initialisation; every entry point calls `Sodium.ready()`.
public enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    @discardableResult
    static func ready() -> Bool {
        precondition(initialized, "libsodium failed to initialise")
        return initialized
    }

    /// Fills a buffer with cryptographically secure random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        ready()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf(nonNull($0.baseAddress), $0.count) }
        return out
    }

    /// Compares two buffers in constant time.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                sodium_memcmp(
                    UnsafeRawPointer(nonNull(pa.baseAddress?.assumingMemoryBound(to: UInt8.self))),
                    UnsafeRawPointer(nonNull(pb.baseAddress?.assumingMemoryBound(to: UInt8.self))), a.count) == 0
            }
        }
    }

    /// Overwrites a buffer with zeros in a way the compiler may not elide.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { sodium_memzero(nonNull($0.baseAddress), $0.count) }
    }

    /// Overwrites a Data buffer with zeros.
    public static func wipe(_ data: inout Data) {
        data.withUnsafeMutableBytes { sodium_memzero(nonNull($0.baseAddress), $0.count) }
    }

    /// Whether this CPU runs libsodium's AES-256-GCM (needs AES-NI and PCLMUL).
    public static var hasAESGCM: Bool {
        ready()
        return crypto_aead_aes256gcm_is_available() == 1
    }
}

/// libsodium's headers mark every pointer non-null, even for zero-length input; Swift
/// gives nil base addresses for empty buffers. These stand in a valid address.
nonisolated(unsafe) private let emptyByte = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
func nonNull(_ p: UnsafePointer<UInt8>?) -> UnsafePointer<UInt8> { p ?? UnsafePointer(emptyByte) }
func nonNull(_ p: UnsafeMutablePointer<UInt8>?) -> UnsafeMutablePointer<UInt8> { p ?? emptyByte }
func nonNull(_ p: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer { p ?? UnsafeMutableRawPointer(emptyByte) }

/// A raw buffer's bytes for C, never nil: an empty buffer gives the one-byte stand-in, which
/// C reads zero bytes of.
func bytePointer(_ b: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> { nonNull(b.baseAddress?.assumingMemoryBound(to: UInt8.self)) }
func bytePointer(_ b: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<UInt8> {
    nonNull(b.baseAddress?.assumingMemoryBound(to: UInt8.self))
}
