import Foundation
import LeafSodium

/// A 16-byte random identifier of a pack, index, snapshot or data key. Reveals nothing.
public struct ObjectID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { precondition(bytes.count == 16); self.bytes = bytes }
    public static func random() -> ObjectID { ObjectID(Sodium.randomBytes(16)) }
    public static let zero = ObjectID([UInt8](repeating: 0, count: 16))

    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
    public var description: String { hex }
    public init?(hex: String) {
        guard hex.count == 32, let b = hexBytes(hex) else { return nil }
        self.bytes = b
    }
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = ObjectID(hex: s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad id \(s)")) }
        self = id
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(hex)
    }
    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// A master-key version carried in the key-id field of a data-key envelope.
    public static func masterVersion(_ v: UInt32) -> ObjectID {
        var b = [UInt8](repeating: 0, count: 16)
        b[0] = UInt8(v >> 24); b[1] = UInt8(v >> 16 & 0xff); b[2] = UInt8(v >> 8 & 0xff); b[3] = UInt8(v & 0xff)
        return ObjectID(b)
    }
    public var asMasterVersion: UInt32 { UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3]) }
}

/// A 32-byte keyed id of a blob's content: equal content, equal id, within one repository.
public struct BlobID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { precondition(bytes.count == 32); self.bytes = bytes }
    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
    public var description: String { hex }
    public init?(hex: String) {
        guard hex.count == 64, let b = hexBytes(hex) else { return nil }
        self.bytes = b
    }
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = BlobID(hex: s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad blob id")) }
        self = id
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(hex)
    }
}

func hexBytes(_ s: String) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count / 2)
    var hi: UInt8?
    for c in s.utf8 {
        let v: UInt8
        switch c {
        case 48...57: v = c - 48
        case 97...102: v = c - 87
        case 65...70: v = c - 55
        default: return nil
        }
        if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
    }
    return hi == nil ? out : nil
}
