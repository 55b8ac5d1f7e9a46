import Foundation
import LeafConcurrency
import LeafSodium
import LeafStorage

/// Many data keys wrapped together under one master-key version: `keys/set-<id>`.
///
/// A backup wraps its one new data key alone (`keys/<id>`); a rotation gathers every
/// data key of the region into one set, so re-wrapping is one AEAD operation and one
/// object per location instead of one per key and location. The plaintext is a run of
/// fixed-size entries, each a data key's 16-byte id, its AEAD algorithm (1 byte) and its
/// 32-byte secret; it lives only in guarded memory.
enum KeySet {
    static let prefix = "keys/set-"
    static let entryLength = 16 + 1 + 32

    static func name(_ id: ObjectID) -> String { prefix + id.hex }
    static func isSet(_ name: String) -> Bool { name.hasPrefix(prefix) }

    /// Seals `plain` (entries) under master version `version`'s wrapping key.
    static func seal(_ plain: SecureBytes, id: ObjectID, wrapping: SecureBytes, version: UInt32) throws -> [UInt8] {
        let alg = AEADAlgorithm.preferred
        // Random nonce: a set is written once per rotation.
        let header = EnvelopeHeader(
            algorithm: alg, kind: .keySet, objectID: id, keyID: .masterVersion(version),
            plaintextLength: UInt64(plain.count), nonce: Sodium.randomBytes(alg.nonceLength))
        return try plain.withUnsafeBytes { try Envelope.seal($0, header: header, key: wrapping) }
    }

    /// Opens a set into guarded memory; the header must name `id`.
    static func open(_ bytes: [UInt8], id: ObjectID, wrapping: (UInt32) throws -> SecureBytes) throws -> SecureBytes {
        let header = try EnvelopeHeader.decode(bytes)
        guard header.kind == .keySet, header.objectID == id, header.plaintextLength % UInt64(entryLength) == 0 else {
            throw RepositoryError.malformed("\(name(id)) does not hold that key set")
        }
        let n = header.encodedLength
        let key = try wrapping(header.keyID.asMasterVersion)
        return try bytes.withUnsafeBytes { raw in
            try AEAD.openSecret(Array(raw[n...]), associatedData: Array(bytes[0..<n]), nonce: header.nonce, key: key, algorithm: header.algorithm)
        }
    }

    /// The ids of the entries of an opened set, with their offsets.
    static func entries(_ plain: SecureBytes) -> [(ObjectID, Int)] {
        plain.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count - raw.count % entryLength, by: entryLength).map { (ObjectID(Array(raw[$0..<($0 + 16)])), $0) }
        }
    }

    /// The data key at `offset` of an opened set, copied into its own guarded memory.
    static func dataKey(in plain: SecureBytes, at offset: Int) throws -> DataKey {
        try plain.withUnsafeBytes { raw in
            guard let alg = AEADAlgorithm(rawValue: raw[offset + 16]) else {
                throw RepositoryError.malformed("a key set names unknown algorithm \(raw[offset + 16])")
            }
            let secret = try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: raw[(offset + 17)..<(offset + entryLength)]))
            return DataKey(id: ObjectID(Array(raw[offset..<(offset + 16)])), secret: secret, algorithm: alg, canSeal: false)
        }
    }
}

/// The data keys of a region's key sets, opened once and kept in guarded memory; rebuilt
/// when a key is not found (a rotation may have written a new set since).
final class KeySetIndex: Sendable {
    private struct State {
        var sets: [String: SecureBytes] = [:]
        var placement: [ObjectID: (String, Int)] = [:]
        /// Sets that could not be opened, with why: (name, master version or nil, problem).
        var failures: [(String, UInt32?, String)] = []
        var built = false
    }
    /// Held while the sets are read, on purpose: concurrent lookups wait for one reading.
    private let state = Locked(State())

    /// Finds `id` in the region's sets, (re)reading them when `refresh` or on first use.
    func find(_ id: ObjectID, in repository: Repository, refresh: Bool) throws -> (DataKey?, [(String, UInt32?, String)]) {
        try state.withLock { s in
            if !s.built || refresh { Self.rebuild(&s, repository) }
            if let (name, offset) = s.placement[id], let plain = s.sets[name] { return (try KeySet.dataKey(in: plain, at: offset), []) }
            return (nil, s.failures)
        }
    }

    /// Forgets every set read (they were replaced): the next lookup reads them again.
    func forgetAll() {
        state.withLock { $0 = State() }
    }

    /// Whether any set of the region holds `id` (reading the sets once).
    func holds(_ id: ObjectID, in repository: Repository) -> Bool {
        state.withLock { s in
            if !s.built { Self.rebuild(&s, repository) }
            return s.placement[id] != nil
        }
    }

    private static func rebuild(_ s: inout State, _ repository: Repository) {
        s.built = true
        s.failures = []
        for name in repository.listReplicated(prefix: KeySet.prefix) where s.sets[name] == nil {
            guard let id = ObjectID(hex: String(name.dropFirst(KeySet.prefix.count))) else { continue }
            var version: UInt32?
            do {
                let plain: SecureBytes = try repository.readReplicated(name) { bytes in
                    version = try? EnvelopeHeader.decode(bytes).keyID.asMasterVersion
                    return try KeySet.open(bytes, id: id) { v in try repository.wrappingKey(version: v, dataKey: id) }
                }
                s.sets[name] = plain
                for (key, offset) in KeySet.entries(plain) { s.placement[key] = (name, offset) }
            } catch RepositoryError.wrongMasterKey(let v, _) {
                s.failures.append((name, v, "wrapped by master key version \(v), which this keyring cannot open"))
            } catch {
                s.failures.append((name, version, "\(error)"))
            }
        }
    }
}
