import Foundation
import LeafSodium

/// One data key of a region, as `leafguard keys list` shows it.
public struct DataKeyInfo: Sendable, Codable {
    /// The key's id (hex).
    public let id: String
    /// The AEAD it seals with.
    public let algorithm: String
    /// The master-key version that wraps it (the lowest, when copies differ).
    public let masterVersion: UInt32?
    /// Where it is stored: `own object`, `key set`, or both.
    public let storedIn: [String]
    /// When the first pack it seals was sealed (data keys carry no date of their own).
    public let firstSealed: Date?
    /// Objects sealed under it, by kind: packs, indexes, snapshots, reports, config.
    public let seals: [String: Int]
}

extension Repository {
    /// Every data key the region holds or names, with what it seals: what `reencrypt:
    /// {data_key: ID}` takes after a leak, and proof afterwards that a key seals nothing.
    public func dataKeyList() throws -> [DataKeyInfo] {
        struct Entry { var algorithm = "?"; var version: UInt32?; var stored = Set<String>(); var first: Double?; var seals: [String: Int] = [:] }
        var keys: [ObjectID: Entry] = [:]
        for name in listReplicated(prefix: "keys/") {
            if KeySet.isSet(name) {
                guard let id = ObjectID(hex: String(name.dropFirst(KeySet.prefix.count))) else { continue }
                var version: UInt32?
                guard
                    let plain = try? readReplicated(
                        name,
                        { bytes -> SecureBytesBox in
                            version = try EnvelopeHeader.decode(bytes).keyID.asMasterVersion
                            return SecureBytesBox(try KeySet.open(bytes, id: id) { try self.wrappingKey(version: $0, dataKey: id) })
                        })
                else { continue }
                for (key, offset) in KeySet.entries(plain.value) {
                    let algorithm = (try? KeySet.dataKey(in: plain.value, at: offset))?.algorithm.name ?? "?"
                    keys[key, default: Entry()].stored.insert("key set")
                    keys[key, default: Entry()].algorithm = algorithm
                    keys[key, default: Entry()].version = min(keys[key]?.version ?? .max, version ?? .max)
                }
            } else if let id = ObjectID(hex: String(name.dropFirst(5))) {
                let header = try? readReplicated(name) { try EnvelopeHeader.decode($0) }
                keys[id, default: Entry()].stored.insert("own object")
                if let h = header {
                    keys[id, default: Entry()].version = min(keys[id]?.version ?? .max, h.keyID.asMasterVersion)
                    if let k = try? dataKey(id) { keys[id, default: Entry()].algorithm = k.algorithm.name }
                }
            }
        }
        for p in try loadIndex().packs.values {
            keys[p.dataKey, default: Entry()].seals["packs", default: 0] += 1
            if let t = p.sealedAt { keys[p.dataKey, default: Entry()].first = min(keys[p.dataKey]?.first ?? t, t) }
        }
        for (prefix, kind) in [("index/", "indexes"), ("snapshots/", "snapshots"), ("reports/", "reports")] {
            for name in listReplicated(prefix: prefix) {
                for loc in locations {
                    guard let bytes = try? loc.get(name), let h = try? EnvelopeHeader.decode(bytes) else { continue }
                    keys[h.keyID, default: Entry()].seals[kind, default: 0] += 1
                    break
                }
            }
        }
        keys[config.idKey, default: Entry()].seals["config", default: 0] += 1
        return keys.sorted { $0.key < $1.key }.map { id, e in
            DataKeyInfo(
                id: id.hex, algorithm: e.algorithm, masterVersion: e.version == .max ? nil : e.version, storedIn: e.stored.sorted(),
                firstSealed: e.first.map { Date(timeIntervalSince1970: $0) }, seals: e.seals)
        }
    }
}

/// Guarded key-set plaintext passed out of a decode closure.
struct SecureBytesBox { let value: SecureBytes; init(_ v: SecureBytes) { value = v } }
