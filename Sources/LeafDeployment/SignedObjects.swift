import Foundation
import LeafAudit
import LeafKeys
import LeafRepository
import LeafSodium

/// The objects of a region that are signed (or sealed under the audit key) rather than
/// sealed like the repository's: checkpoints, log segments, activity seals, the published
/// public key, region heads. Tells whether one copy is authentic, and completes the
/// locations that lack a copy.
struct SignedObjects: Sendable {
    let keys: AuditKeyChain
    let published: [UInt8]

    init(keyring: Keyring) throws {
        keys = try AuditKeyChain(current: keyring.auditSeed, previous: keyring.previousAuditSeeds)
        published = Array("ed25519 \(keys.signer.publicKeyHex) leafguard-audit\n".utf8)
    }

    static let prefixes = ["audit/", "heads/"]

    func isAuthentic(_ name: String, _ bytes: [UInt8]) -> Bool {
        if name == "audit/audit-signing.pub" { return bytes == published }
        if name.hasPrefix("audit/checkpoint-") { return (try? Checkpoint.open(bytes, publicKeys: keys.publicKeys))?.name == name }
        if name.hasPrefix("audit/log-") { return (try? AuditTrail.openSegment(bytes, name: name, keys: keys.segmentKeys)) != nil }
        if name.hasPrefix("audit/activity/") { return ActivitySealer.isAuthenticCopy(bytes, name: name, publicKeys: keys.publicKeys) }
        if name.hasPrefix("heads/") { return RegionHead.open(bytes, publicKeys: keys.publicKeys)?.name == name }
        return true  // not an object this knows how to check
    }

    /// Copies every signed object to the locations of `repo` that lack it, from an authentic
    /// copy: what a killed checkpoint or a location added to the region did not receive.
    /// Returns how many copies were written.
    @discardableResult
    func completeCopies(in repo: Repository) -> Int {
        var listed: [Set<String>?] = []
        for loc in repo.locations { listed.append((try? Self.prefixes.flatMap { try loc.list(prefix: $0) }).map(Set.init)) }
        let all = Set(listed.compactMap { $0 }.flatMap { $0 })
        var written = 0
        for name in all.sorted() {
            let lacking = repo.locations.indices.filter { listed[$0].map { !$0.contains(name) } ?? false }
            guard !lacking.isEmpty,
                let good = repo.locations.lazy.compactMap({ try? $0.get(name) }).first(where: { isAuthentic(name, $0) })
            else { continue }
            for i in lacking where (try? repo.locations[i].put(name, good)) != nil { written += 1 }
        }
        return written
    }
}
