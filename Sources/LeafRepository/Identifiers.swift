import Foundation
import LeafSodium

/// A 16-byte random identifier of a pack, index, snapshot or data key. Reveals nothing.
public struct ObjectID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The 16 bytes.
    public let bytes: [UInt8]
    /// The id of `bytes`, which must be 16.
    public init(_ bytes: [UInt8]) { precondition(bytes.count == 16); self.bytes = bytes }
    /// 16 random bytes.
    public static func random() -> ObjectID { ObjectID(Sodium.randomBytes(16)) }

    /// 6 bytes of milliseconds since 1970, then 10 random bytes: ids that sort by time, so
    /// the latest snapshot is found from names alone. Reveals only when a backup ran.
    public static func timeOrdered(_ date: Date) -> ObjectID {
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var b = (0..<6).map { UInt8(ms >> (8 * UInt64(5 - $0)) & 0xff) }
        b += Sodium.randomBytes(10)
        return ObjectID(b)
    }
    /// The time a time-ordered id carries (its first 6 bytes, milliseconds since 1970).
    public var orderedTime: Date {
        Date(timeIntervalSince1970: Double(bytes.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) / 1000)
    }

    /// All zeros: the key-id field of objects that name no data key.
    public static let zero = ObjectID([UInt8](repeating: 0, count: 16))

    /// 32 lowercase hex digits, as object names write it.
    public var hex: String { hexEncode(bytes) }
    /// The hex form.
    public var description: String { hex }
    /// Eight hex digits from the random part (bytes 6–9), the short form shown to people:
    /// time-ordered ids share their leading digits.
    public var short: String { hexEncode(Array(bytes[6..<10])) }
    /// Reads 32 hex digits; nil for anything else.
    public init?(hex: String) {
        guard hex.count == 32, let b = hexBytes(hex) else { return nil }
        self.bytes = b
    }
    /// Reads the hex form from JSON.
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = ObjectID(hex: s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad id \(s)")) }
        self = id
    }
    /// Writes the hex form to JSON.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(hex)
    }
    /// Byte order, which for time-ordered ids is time order.
    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// A master-key version carried in the key-id field of a data-key envelope.
    public static func masterVersion(_ v: UInt32) -> ObjectID {
        var b = [UInt8](repeating: 0, count: 16)
        b[0] = UInt8(v >> 24); b[1] = UInt8(v >> 16 & 0xff); b[2] = UInt8(v >> 8 & 0xff); b[3] = UInt8(v & 0xff)
        return ObjectID(b)
    }
    /// The master-key version a `masterVersion(_:)` id carries.
    public var asMasterVersion: UInt32 { UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3]) }
}

/// A 32-byte keyed id of a blob's content: equal content, equal id, within one repository.
/// Stored inline (four words) because manifests hold them by the ten thousand.
public struct BlobID: Hashable, Sendable, Codable, CustomStringConvertible {
    private let w0, w1, w2, w3: UInt64

    /// The id of `bytes`, which must be 32.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32)
        func word(_ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[i * 8 + $1]) } }
        w0 = word(0); w1 = word(1); w2 = word(2); w3 = word(3)
    }

    /// The 32 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for i in (0..<8).reversed() { out.append(UInt8(w >> (8 * UInt64(i)) & 0xff)) } }
        return out
    }

    /// 64 lowercase hex digits.
    public var hex: String { hexEncode(bytes) }
    /// The hex form.
    public var description: String { hex }

    /// Reads 64 hex digits; nil for anything else.
    public init?(hex: String) {
        var h = hex
        let parsed: [UInt8]? = h.withUTF8 { utf8 in utf8.count == 64 ? hexBytes(utf8) : nil }
        guard let b = parsed else { return nil }
        self.init(b)
    }
    /// Reads the hex form from JSON.
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = BlobID(hex: s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad blob id")) }
        self = id
    }
    /// Writes the hex form to JSON.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(hex)
    }
}

func hexBytes(_ s: String) -> [UInt8]? {
    var copy = s
    return copy.withUTF8 { hexBytes($0) }
}

private let hexValues: [UInt8] = {
    var t = [UInt8](repeating: 0xff, count: 256)
    for (i, c) in "0123456789abcdef".utf8.enumerated() { t[Int(c)] = UInt8(i) }
    for (i, c) in "ABCDEF".utf8.enumerated() { t[Int(c)] = UInt8(10 + i) }
    return t
}()

func hexBytes(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    guard utf8.count % 2 == 0 else { return nil }
    var bad = false
    let out = [UInt8](unsafeUninitializedCapacity: utf8.count / 2) { buf, n in
        for i in 0..<(utf8.count / 2) {
            let hi = hexValues[Int(utf8[2 * i])]
            let lo = hexValues[Int(utf8[2 * i + 1])]
            if hi == 0xff || lo == 0xff { bad = true; break }
            buf[i] = hi << 4 | lo
        }
        n = bad ? 0 : utf8.count / 2
    }
    return bad ? nil : out
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Lower-case hex, built by table: ids are encoded by the thousand in every manifest.
public func hexEncode(_ bytes: [UInt8]) -> String {
    String(unsafeUninitializedCapacity: bytes.count * 2) { out in
        for (i, b) in bytes.enumerated() {
            out[2 * i] = hexDigits[Int(b >> 4)]
            out[2 * i + 1] = hexDigits[Int(b & 15)]
        }
        return bytes.count * 2
    }
}
