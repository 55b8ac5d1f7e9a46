internal import CISAL
import Foundation

/// Errors from erasure coding.
public enum ErasureError: Error, Equatable, CustomStringConvertible {
    case invalidLayout(data: Int, parity: Int)
    case tooFewShards(have: Int, need: Int)
    case shardSizeMismatch

    /// What went wrong, in words for an operator.
    public var description: String {
        switch self {
        case .invalidLayout(let d, let p): return "invalid shard layout \(d)+\(p): need 1...32 data and 0...32 parity shards"
        case .tooFewShards(let have, let need): return "only \(have) intact shards, \(need) are needed to rebuild the data"
        case .shardSizeMismatch: return "shards of one object differ in size"
        }
    }
}

/// Systematic Reed-Solomon coding over GF(2^8) with a Cauchy matrix, through Intel ISA-L.
/// Any `data` of the `data + parity` shards rebuild the rest.
public struct ReedSolomon: Sendable {
    /// Shards that carry the object's bytes.
    public let dataShards: Int
    /// Shards of parity: any `parityShards` shards may be lost.
    public let parityShards: Int
    /// Data and parity shards together.
    public var totalShards: Int { dataShards + parityShards }
    /// The (data+parity) x data encoding matrix, identity on top.
    private let matrix: [UInt8]
    private let parityTables: [UInt8]

    /// A code of `dataShards` (1–32) data and `parityShards` (0–32) parity shards; throws `invalidLayout` otherwise.
    public init(dataShards: Int, parityShards: Int) throws {
        guard (1...32).contains(dataShards), (0...32).contains(parityShards) else {
            throw ErasureError.invalidLayout(data: dataShards, parity: parityShards)
        }
        self.dataShards = dataShards
        self.parityShards = parityShards
        let k = dataShards
        let n = dataShards + parityShards
        var m = [UInt8](repeating: 0, count: n * k)
        m.withUnsafeMutableBufferPointer { gf_gen_cauchy1_matrix($0.baseAddress, Int32(n), Int32(k)) }
        matrix = m
        var tables = [UInt8](repeating: 0, count: max(32 * k * parityShards, 1))
        if parityShards > 0 {
            m.withUnsafeMutableBufferPointer { mp in
                tables.withUnsafeMutableBufferPointer { tp in
                    ec_init_tables(Int32(k), Int32(parityShards), mp.baseAddress.map { $0 + k * k }, tp.baseAddress)
                }
            }
        }
        parityTables = tables
    }

    /// The shard length for an object of `length` bytes (padded to a multiple of 64).
    public func shardLength(forObjectOfLength length: Int) -> Int {
        Self.shardLength(forObjectOfLength: length, dataShards: dataShards)
    }

    /// The shard length for an object of `length` bytes cut into `dataShards`.
    public static func shardLength(forObjectOfLength length: Int, dataShards: Int) -> Int {
        let per = (length + dataShards - 1) / dataShards
        return max(64, (per + 63) / 64 * 64)
    }

    /// Splits `object` into `data` shards (zero-padded) and computes `parity` shards.
    public func encode(_ object: UnsafeRawBufferPointer) -> [[UInt8]] {
        var out: [[UInt8]] = []
        encode(object) { _, shard in out.append(Array(shard)) }
        return out
    }

    /// Encodes without copying shards out: `body` sees shard i's bytes, in order, valid
    /// only during the call. The object is copied once into one block; ISA-L writes the
    /// parity in place.
    public func encode(_ object: UnsafeRawBufferPointer, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) rethrows {
        let len = shardLength(forObjectOfLength: object.count)
        let block = UnsafeMutableRawPointer.allocate(byteCount: max(1, len * totalShards), alignment: 64)
        defer { block.deallocate() }
        if let source = object.baseAddress, object.count > 0 { block.copyMemory(from: source, byteCount: object.count) }
        // Only the padding after the object needs zeros; parity is overwritten entirely.
        let padding = len * dataShards - object.count
        if padding > 0 { (block + object.count).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
        let base = block.assumingMemoryBound(to: UInt8.self)
        if parityShards > 0 {
            var pointers = (0..<totalShards).map { Optional(base + $0 * len) }
            var tables = parityTables
            pointers.withUnsafeMutableBufferPointer { p in
                tables.withUnsafeMutableBufferPointer { t in
                    ec_encode_data(Int32(len), Int32(dataShards), Int32(parityShards), t.baseAddress, p.baseAddress, p.baseAddress.map { $0 + dataShards })
                }
            }
        }
        for i in 0..<totalShards { try body(i, UnsafeRawBufferPointer(start: base + i * len, count: len)) }
    }

    /// Rebuilds every missing shard in place. `shards[i] == nil` marks shard i missing or
    /// known corrupt. Throws when fewer than `data` shards are present.
    public func reconstruct(_ shards: inout [[UInt8]?]) throws {
        precondition(shards.count == totalShards)
        let present = shards.indices.filter { shards[$0] != nil }
        guard present.count >= dataShards else { throw ErasureError.tooFewShards(have: present.count, need: dataShards) }
        let missing = shards.indices.filter { shards[$0] == nil }
        if missing.isEmpty { return }
        let lengths = present.compactMap { shards[$0]?.count }
        guard let length = lengths.first, lengths.allSatisfy({ $0 == length }) else { throw ErasureError.shardSizeMismatch }
        let k = dataShards
        let use = Array(present.prefix(k))
        // Rows of the encoding matrix for the shards we use; invert to get data from them.
        var sub = [UInt8](repeating: 0, count: k * k)
        for (r, idx) in use.enumerated() { for c in 0..<k { sub[r * k + c] = matrix[idx * k + c] } }
        var inverse = [UInt8](repeating: 0, count: k * k)
        let rc = sub.withUnsafeMutableBufferPointer { s in
            inverse.withUnsafeMutableBufferPointer { inv in gf_invert_matrix(s.baseAddress, inv.baseAddress, Int32(k)) }
        }
        guard rc == 0 else { throw ErasureError.tooFewShards(have: present.count, need: k) }
        // Each missing shard = (its encoding row) x inverse x (used shards).
        var decodeRows = [UInt8](repeating: 0, count: missing.count * k)
        for (r, idx) in missing.enumerated() {
            for c in 0..<k {
                var acc: UInt8 = 0
                for j in 0..<k { acc ^= gf_mul(matrix[idx * k + j], inverse[j * k + c]) }
                decodeRows[r * k + c] = acc
            }
        }
        var tables = [UInt8](repeating: 0, count: 32 * k * missing.count)
        decodeRows.withUnsafeMutableBufferPointer { d in
            tables.withUnsafeMutableBufferPointer { t in ec_init_tables(Int32(k), Int32(missing.count), d.baseAddress, t.baseAddress) }
        }
        var holders: [UnsafeMutableBufferPointer<UInt8>] = []
        defer { for h in holders { h.deallocate() } }
        var sources = [UnsafeMutablePointer<UInt8>?]()
        for idx in use {
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: length)
            _ = b.initialize(from: shards[idx] ?? [])  // every used shard is present
            holders.append(b); sources.append(b.baseAddress)
        }
        var outputs = [UnsafeMutablePointer<UInt8>?]()
        var outHolders: [UnsafeMutableBufferPointer<UInt8>] = []
        defer { for h in outHolders { h.deallocate() } }
        for _ in missing {
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: length)
            b.initialize(repeating: 0)
            outHolders.append(b); outputs.append(b.baseAddress)
        }
        sources.withUnsafeMutableBufferPointer { s in
            outputs.withUnsafeMutableBufferPointer { o in
                tables.withUnsafeMutableBufferPointer { t in
                    ec_encode_data(Int32(length), Int32(k), Int32(missing.count), t.baseAddress, s.baseAddress, o.baseAddress)
                }
            }
        }
        for (r, idx) in missing.enumerated() { shards[idx] = Array(outHolders[r]) }
    }

    /// Joins the data shards and trims the padding.
    public func join(_ shards: [[UInt8]], length: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(length)
        for i in 0..<dataShards where out.count < length {
            let need = length - out.count
            out.append(contentsOf: shards[i].prefix(need))
        }
        return out
    }
}
