import Foundation
import LeafSodium

/// What a sealed object is. Stored in its header and bound into its associated data.
public enum ObjectKind: UInt8, Sendable {
    case shard = 1
    case index = 2
    case snapshot = 3
    case dataKey = 4
    case config = 5
    case lock = 6
    case report = 7
    case keySet = 8
    case tombstone = 9
}

/// The fixed header in front of every sealed object (all integers big-endian):
///
///     0   4  magic "LGRD"
///     4   1  format version (1)
///     5   1  AEAD algorithm (1 AES-256-GCM, 2 XChaCha20-Poly1305)
///     6   1  object kind
///     7   1  shard index (0 unless a shard)
///     8   1  data shards k (0 unless a shard)
///     9   1  parity shards m (0 unless a shard)
///    10   2  reserved, zero
///    12  16  object id (the pack id for shards)
///    28  16  key id: the data key that sealed it; for a data key, a key set or a
///            lock, the master-key version as a 4-byte integer followed by 12 zero bytes
///    44   8  plaintext length of the whole object (the pack, for shards)
///    52   n  nonce (12 or 24 bytes, by algorithm)
///
/// The ciphertext and 16-byte tag follow. The associated data is the whole header, so an
/// object cannot be moved to another id, shard index, layout or key without failing.
public struct EnvelopeHeader: Sendable, Equatable {
    /// `LGRD`, the first four bytes of every sealed object.
    public static let magic: [UInt8] = Array("LGRD".utf8)
    /// The format version this code writes and reads.
    public static let formatVersion: UInt8 = 1
    /// Header bytes before the nonce.
    public static let fixedLength = 52

    /// The AEAD that sealed the object.
    public var algorithm: AEADAlgorithm
    /// What the object is.
    public var kind: ObjectKind
    /// The shard's index in its pack (0 unless a shard).
    public var shardIndex: UInt8 = 0
    /// Data shards of the pack's layout (0 unless a shard).
    public var dataShards: UInt8 = 0
    /// Parity shards of the pack's layout (0 unless a shard).
    public var parityShards: UInt8 = 0
    /// The object's id (the pack's id, for a shard).
    public var objectID: ObjectID
    /// The data key that sealed it, or a master-key version (see the table above).
    public var keyID: ObjectID
    /// The plaintext length of the whole object (the pack, for a shard).
    public var plaintextLength: UInt64
    /// The nonce, as long as the algorithm's.
    public var nonce: [UInt8]

    /// The header's length in bytes, nonce included.
    public var encodedLength: Int { Self.fixedLength + nonce.count }

    /// The header's bytes, laid out as above.
    public func encode() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(encodedLength)
        out += [Self.formatVersion, algorithm.rawValue, kind.rawValue, shardIndex, dataShards, parityShards, 0, 0]
        out += objectID.bytes
        out += keyID.bytes
        withUnsafeBytes(of: plaintextLength.bigEndian) { out += $0 }
        out += nonce
        return out
    }

    /// Whether this is the header shard `index` of `entry` must carry: kind, pack id, index,
    /// layout, key and length all as the index says.
    public func describes(shard index: Int, of entry: PackEntry) -> Bool {
        kind == .shard && objectID == entry.id && Int(shardIndex) == index && Int(dataShards) == entry.dataShards
            && Int(parityShards) == entry.parityShards && keyID == entry.dataKey && plaintextLength == UInt64(clamping: entry.length)
    }

    /// Reads a header, refusing a wrong magic, an unknown version, algorithm or kind, a truncated object and a claimed length over 1 TiB.
    public static func decode(_ bytes: [UInt8]) throws -> EnvelopeHeader {
        guard bytes.count >= fixedLength, Array(bytes[0..<4]) == magic else {
            throw RepositoryError.malformed("not a leafguard object (bad magic)")
        }
        guard bytes[4] == formatVersion else { throw RepositoryError.malformed("unsupported format version \(bytes[4])") }
        guard let alg = AEADAlgorithm(rawValue: bytes[5]) else { throw RepositoryError.malformed("unknown algorithm \(bytes[5])") }
        guard let kind = ObjectKind(rawValue: bytes[6]) else { throw RepositoryError.malformed("unknown object kind \(bytes[6])") }
        guard bytes.count >= fixedLength + alg.nonceLength + AEADAlgorithm.tagLength else {
            throw RepositoryError.malformed("object is truncated")
        }
        var len: UInt64 = 0
        for b in bytes[44..<52] { len = len << 8 | UInt64(b) }
        // No object leafguard writes comes near 1 TiB; a larger claim is damage or an attack,
        // and refusing it here keeps every Int(…) of the length from trapping.
        guard len <= 1 << 40 else { throw RepositoryError.malformed("object claims a length of \(len) bytes") }
        return EnvelopeHeader(
            algorithm: alg, kind: kind, shardIndex: bytes[7], dataShards: bytes[8], parityShards: bytes[9],
            objectID: ObjectID(Array(bytes[12..<28])), keyID: ObjectID(Array(bytes[28..<44])),
            plaintextLength: len, nonce: Array(bytes[fixedLength..<(fixedLength + alg.nonceLength)]))
    }
}

/// Seals and opens objects in the envelope format.
public enum Envelope {
    /// `header`, then `plaintext` sealed under `key` with the header as associated data, then the tag.
    public static func seal(_ plaintext: UnsafeRawBufferPointer, header: EnvelopeHeader, key: SecureBytes) throws -> [UInt8] {
        let head = header.encode()
        return try AEAD.seal(plaintext, associatedData: head, nonce: header.nonce, key: key, algorithm: header.algorithm, prefix: head)
    }

    /// `header`, then `plaintext` sealed under `key` with the header as associated data, then the tag.
    public static func seal(_ plaintext: [UInt8], header: EnvelopeHeader, key: SecureBytes) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal($0, header: header, key: key) }
    }

    /// Opens `bytes`, whose header must already be decoded; throws `authenticationFailed`
    /// for any altered byte.
    public static func open(_ bytes: [UInt8], header: EnvelopeHeader, key: SecureBytes) throws -> [UInt8] {
        let n = header.encodedLength
        return try bytes.withUnsafeBytes { raw in
            try AEAD.open(
                UnsafeRawBufferPointer(rebasing: raw[n...]), associatedData: Array(bytes[0..<n]),
                nonce: header.nonce, key: key, algorithm: header.algorithm)
        }
    }
}
