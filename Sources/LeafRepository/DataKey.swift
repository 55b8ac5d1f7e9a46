import Foundation
import LeafConcurrency
import LeafSodium

/// A data key: the 32-byte key that seals packs, indexes and snapshots of one writer
/// session. It is stored only wrapped by a master-key version (envelope encryption).
///
/// Nonces for a sealing key come from a counter, and a sealing key is never reused by
/// another session, so no nonce repeats under a key. Keys loaded from a repository
/// only open data.
public final class DataKey: Sendable, CustomStringConvertible {
    /// The key's random id, named in the header of everything it seals.
    public let id: ObjectID
    /// The 32 key bytes, in guarded memory.
    public let secret: SecureBytes
    /// The AEAD it seals with.
    public let algorithm: AEADAlgorithm
    private let canSeal: Bool
    private let counter = Locked<UInt64>(0)

    init(id: ObjectID, secret: SecureBytes, algorithm: AEADAlgorithm, canSeal: Bool) {
        self.id = id; self.secret = secret; self.algorithm = algorithm; self.canSeal = canSeal
    }

    /// A fresh random key for sealing.
    public static func generate(algorithm: AEADAlgorithm = .preferred) throws -> DataKey {
        DataKey(id: .random(), secret: try .random(count: 32), algorithm: algorithm, canSeal: true)
    }

    /// The next nonce: a big-endian counter in the last 8 bytes.
    public func nextNonce() -> [UInt8] {
        precondition(canSeal, "a data key loaded from a repository is never used to seal")
        let c = counter.withLock {
            $0 += 1; return $0
        }
        var n = [UInt8](repeating: 0, count: algorithm.nonceLength)
        for i in 0..<8 { n[n.count - 1 - i] = UInt8(c >> (8 * UInt64(i)) & 0xff) }
        return n
    }

    /// The id only: the key bytes never reach a log or a message.
    public var description: String { "data key \(id.hex) <redacted>" }

    /// Wraps this key under a master key version's wrapping key.
    func wrap(master: SecureBytes, masterVersion: UInt32) throws -> [UInt8] {
        let alg = AEADAlgorithm.preferred
        // Random nonce: wrapping happens once per data key and per rotation, far below the
        // 2^32 messages a random 96-bit nonce allows under one key.
        let header = EnvelopeHeader(
            algorithm: alg, kind: .dataKey, objectID: id, keyID: .masterVersion(masterVersion),
            plaintextLength: 32, nonce: Sodium.randomBytes(alg.nonceLength))
        return try secret.withUnsafeBytes { try Envelope.seal($0, header: header, key: master) }
    }

    /// Opens a wrapped key object straight into a key-set entry (id, algorithm, secret) at
    /// `entry`, without a guarded allocation of its own: a rotation opens every key of a region.
    static func unwrap(
        _ bytes: [UInt8], expectedID: ObjectID, master: (UInt32) throws -> SecureBytes,
        into entry: UnsafeMutableRawBufferPointer
    ) throws {
        let header = try EnvelopeHeader.decode(bytes)
        guard header.plaintextLength == 32 else { throw RepositoryError.malformed("keys/\(expectedID.hex) does not hold that data key") }
        var plain = try open(bytes, header: header, expectedID: expectedID, master: master)
        defer { Sodium.wipe(&plain) }
        guard plain.count == 32 else { throw RepositoryError.malformed("keys/\(expectedID.hex) does not hold a 32-byte key") }
        expectedID.bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: entry[0..<16]).copyMemory(from: $0) }
        entry[16] = header.algorithm.rawValue
        plain.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: entry[17..<49]).copyMemory(from: $0) }
    }

    /// Opens a wrapped key object; the header names the master version it needs.
    static func unwrap(_ bytes: [UInt8], expectedID: ObjectID, master: (UInt32) throws -> SecureBytes) throws -> DataKey {
        let header = try EnvelopeHeader.decode(bytes)
        var plain = try open(bytes, header: header, expectedID: expectedID, master: master)
        return DataKey(id: expectedID, secret: try SecureBytes(consuming: &plain), algorithm: header.algorithm, canSeal: false)
    }

    /// The plaintext of a wrapped key object whose header names `expectedID`; failing
    /// authentication means the master key is not the version the header names.
    private static func open(
        _ bytes: [UInt8], header: EnvelopeHeader, expectedID: ObjectID,
        master: (UInt32) throws -> SecureBytes
    ) throws -> [UInt8] {
        guard header.kind == .dataKey, header.objectID == expectedID else {
            throw RepositoryError.malformed("keys/\(expectedID.hex) does not hold that data key")
        }
        let version = header.keyID.asMasterVersion
        do { return try Envelope.open(bytes, header: header, key: try master(version)) } catch SodiumError.authenticationFailed {
            throw RepositoryError.wrongMasterKey(version: version, dataKey: expectedID.hex)
        }
    }
}
