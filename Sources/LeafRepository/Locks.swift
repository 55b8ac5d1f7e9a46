import Foundation
import LeafSodium
import LeafStorage

/// Region locks, so that prune never removes data a running backup is about to name.
/// A backup holds a shared lock, prune an exclusive one; each is a sealed object
/// `locks/<id>` in every location. Whoever finds the other kind after writing its own
/// removes its lock and gives up: at worst both give up, never both proceed.
public struct RegionLock: Sendable {
    public enum Kind: String, Codable, Sendable { case shared, exclusive }
    struct Record: Codable { let kind: Kind; let host: String; let pid: Int32; let created: Date }

    public let id: ObjectID
    let repository: Repository

    /// Locks older than this are left over from a crashed process and are ignored.
    public static let staleAfter: TimeInterval = 6 * 3600

    public static func acquire(_ kind: Kind, in repository: Repository, now: Date = Date()) throws -> RegionLock {
        let id = ObjectID.random()
        let record = Record(kind: kind, host: ProcessInfo.processInfo.hostName, pid: getpid(), created: now)
        let wrapping = try repository.master.wrappingKey()
        let json = [UInt8](try JSON.encoder.encode(record))
        let header = EnvelopeHeader(algorithm: .preferred, kind: .lock, objectID: id, keyID: .masterVersion(repository.master.version),
                                    plaintextLength: UInt64(json.count), nonce: Sodium.randomBytes(AEADAlgorithm.preferred.nonceLength))
        try repository.putReplicated("locks/\(id.hex)", try Envelope.seal(json, header: header, key: wrapping))
        let lock = RegionLock(id: id, repository: repository)
        for other in repository.listReplicated(prefix: "locks/") where other != "locks/\(id.hex)" {
            guard let r = try? repository.readReplicated(other, { bytes -> Record in
                let h = try EnvelopeHeader.decode(bytes)
                return try JSON.decoder.decode(Record.self, from: Data(try Envelope.open(bytes, header: h, key: wrapping)))
            }), now.timeIntervalSince(r.created) < staleAfter else { continue }
            // A lock of a process of this host that no longer exists (killed, crashed) is
            // left over: removed now rather than blocking the region until it goes stale.
            if r.host == record.host && r.pid != getpid() && kill(r.pid, 0) != 0 && errno == ESRCH {
                for loc in repository.locations { try? loc.delete(other) }
                continue
            }
            if kind == .exclusive || r.kind == .exclusive {
                lock.release()
                throw RepositoryError.locked(region: repository.region, by: "\(r.kind.rawValue) lock of \(r.host) pid \(r.pid) since \(r.created)")
            }
        }
        return lock
    }

    public func release() {
        for loc in repository.locations { try? loc.delete("locks/\(id.hex)") }
    }
}
