import Foundation
import LeafDigest
import LeafSodium

/// What a region should hold: every snapshot and index leafguard stored there and did not
/// remove itself, signed with the audit key (the checkpoint's two-line form). A copy of
/// each region's newest head lives in every location of every region and in the state
/// folder, so deleting or rolling back snapshots or indexes in every location of one region
/// is noticed from the other region, the state folder, or both — also on a new host.
public struct RegionHead: Codable, Sendable, Equatable {
    /// Always `leafguard-region-head-v1`.
    public var format = "leafguard-region-head-v1"
    /// The repository's id (hex): a head of another repository says nothing about this one.
    public var repository: String
    /// The region the head describes.
    public var region: String
    /// One more than the head it follows; the highest authentic one is the newest.
    public var sequence: UInt64
    /// When the head was written (ISO 8601).
    public var at: String
    /// Snapshot and index ids (hex), sorted.
    public var snapshots: [String]
    /// Index ids (hex), sorted.
    public var indexes: [String]

    /// The head of `region` in `repository` with sequence number `sequence`, written at `at`.
    public init(repository: String, region: String, sequence: UInt64, at: Date, snapshots: [String], indexes: [String]) {
        self.repository = repository; self.region = region; self.sequence = sequence
        self.at = ISO8601DateFormatter().string(from: at)
        self.snapshots = snapshots.sorted(); self.indexes = indexes.sorted()
    }

    /// The object name: `heads/REGION-SEQUENCE`, zero-padded so names sort by sequence.
    public var name: String { Self.prefix(region) + String(format: "%016llu", sequence) }
    /// The names of `region`'s heads start with this (`heads/REGION-`).
    public static func prefix(_ region: String) -> String { "heads/\(region)-" }

    /// The sequence number a head object's name carries (`heads/REGION-` and 16 digits);
    /// nil for any other name.
    public static func sequence(inName name: String, region: String) -> UInt64? {
        let p = prefix(region)
        guard name.hasPrefix(p) else { return nil }
        let digits = name.dropFirst(p.count)
        guard digits.utf8.count == 16, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(digits)
    }

    /// The largest head accepted: far more ids than a region holds (each id is 32 characters).
    public static let maximumBytes = 64 << 20

    /// The head in its signed two-line form, signed by `signer`.
    public func signed(by signer: AuditSigner) throws -> [UInt8] { try signer.signedDocument(self) }

    /// Reads a signed head and checks its signature; nil for anything else (a copy that does
    /// not verify is one vote less, never an error that stops a command).
    public static func open(_ bytes: [UInt8], publicKey: [UInt8]) -> RegionHead? { open(bytes, publicKeys: [publicKey]) }

    /// Reads a signed head whose signature verifies under one of `publicKeys` (an audit key
    /// chain's: heads signed before a key handover stay valid); nil for anything else.
    public static func open(_ bytes: [UInt8], publicKeys: [[UInt8]]) -> RegionHead? {
        guard bytes.count <= maximumBytes else { return nil }
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        guard lines.count == 2, let sig = [UInt8](hexString: String(decoding: lines[1], as: UTF8.self)),
            signedByAny(sig, of: Array(lines[0]), publicKeys: publicKeys),
            let head = try? JSONDecoder().decode(RegionHead.self, from: Data(lines[0])),
            head.format == "leafguard-region-head-v1"
        else { return nil }
        return head
    }
}
