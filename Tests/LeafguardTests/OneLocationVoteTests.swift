import Foundation
import LeafTestSupport
import Testing

/// Issue 16, point 1, for every kind of stored object: one location's copy flipped,
/// truncated, planted under an unknown format version, or replaced by another
/// repository's object of the same kind is that copy's problem. The region still lists,
/// restores and backs up; verify names the copy; a repair heals it.
@Suite struct OneLocationVoteTests {
    enum Damage: String, CaseIterable, Sendable { case flipped, truncated, unknownVersion, foreign }

    /// Objects of each kind in loc0 of the primary region, by a path relative to loc0.
    static let kinds = [
        "config", "keyring", "keys/", "keys/set-", "index/", "snapshots/", "reports/", "data/",
        "audit/checkpoint-", "audit/log-", "audit/audit-signing.pub", "heads/",
    ]

    /// Another repository's objects, made once for every case that needs one.
    static let foreign: DisasterFixture? = {
        let f = try? DisasterFixture(fresh: true)
        _ = try? f?.run(["run", "scan"])
        return f?.keptUntilExit()
    }()

    /// The deployment every case copies: three snapshots and an archived report in every location.
    static let template: DisasterFixture? = {
        let f = try? DisasterFixture()
        _ = try? f?.run(["run", "scan"])
        return f?.keptUntilExit()
    }()

    static func object(_ kind: String, in loc: String) -> String? {
        if !kind.hasSuffix("/") && !kind.hasSuffix("-") || kind.hasSuffix(".pub") {
            return FileManager.default.fileExists(atPath: loc + "/" + kind) ? kind : nil
        }
        let all = filesBelow(loc).filter { $0.hasPrefix(kind) && (kind != "keys/" || !$0.hasPrefix("keys/set-")) }
        return all.sorted().last
    }

    @Test(arguments: kinds, Damage.allCases)
    func oneBadCopyIsOneVote(kind: String, damage: Damage) throws {
        let f = try DisasterFixture(copying: try #require(Self.template))
        let loc = f.file("regions/primary/loc0")
        let name = try #require(Self.object(kind, in: loc), "no \(kind) object in loc0")
        let path = loc + "/" + name
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        switch damage {
        case .flipped: bytes[bytes.count / 2] ^= 0x5a
        case .truncated: bytes = Array(bytes.prefix(bytes.count / 2))
        case .unknownVersion:
            let text = String(decoding: bytes, as: UTF8.self)
            if bytes.starts(with: Array("LGRD".utf8)) {
                bytes[4] = 9
            } else if text.contains("leafguard-keyring-v2") {
                bytes = Array(text.replacingOccurrences(of: "leafguard-keyring-v2", with: "leafguard-keyring-v9").utf8)
            } else if text.contains("-v1\"") {
                bytes = Array(text.replacingOccurrences(of: "-v1\"", with: "-v9\"").utf8)
            } else {
                bytes[0] ^= 0x01
            }  // a sealed segment's nonce, the public key's text
        case .foreign:
            let other = try #require(Self.foreign).file("regions/primary/loc0")
            let otherName = try #require(Self.object(kind, in: other))
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: other + "/" + otherName)))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let label = "\(kind)-\(damage.rawValue)"
        let list = try f.run(["snapshots", "list"])
        #expect(list.status == 0, "\(label): snapshots list: \(list.all)")
        let target = f.file("restore-\(label)")
        let r = try f.run(["restore", "latest", "--to", target])
        #expect(r.status == 0 && sameTree(f.expected.last!.data, target), "\(label): restore: \(r.all)")
        let v = try f.run(["verify", "--read-data", "--region", "primary"])
        #expect(v.status == 1 && v.stdout.contains("loc0") && v.stdout.contains(name), "\(label): verify names the bad copy \(name): \(v.all)")
        let repair = try f.run(["verify", "--read-data", "--repair", "--region", "primary"])
        #expect(repair.status == 0, "\(label): repair: \(repair.all)")
        try f.expectVerifyClean(label)
        let b = try f.run(["run", "nightly"])
        #expect(b.status == 0, "\(label): a backup afterwards: \(b.all)")
    }
}
