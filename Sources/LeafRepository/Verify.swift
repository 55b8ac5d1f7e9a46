import Foundation
import LeafErasure
import LeafFiles
import LeafSodium
import LeafStorage
import LeafTime

/// One thing verify found wrong, and whether it was repaired.
public struct VerifyProblem: Sendable, Codable, Equatable {
    /// The location (`primary/loc3`), or the region when the problem is not one location's.
    public let location: String
    /// The object's name.
    public let object: String
    /// What is wrong; its raw value is the word verify prints and its JSON holds.
    public enum Kind: String, Sendable, Codable, CustomStringConvertible {
        /// A shard is not where the index places it, or a copy of a replicated object is gone.
        case missing
        /// A shard does not authenticate.
        case corrupt
        case missingCopy = "missing-copy"
        /// A copy of a replicated object is there but does not authenticate.
        case corruptCopy = "corrupt-copy"
        /// A snapshot names a blob no index holds.
        case missingBlob = "missing-blob"
        /// Recorded in the region's signed head but in no location.
        case missingSnapshot = "missing-snapshot"
        case missingIndex = "missing-index"
        /// A snapshot no signed record accounts for: not in the region's signed head, not
        /// recorded as written in the audit log, in no other region's head. Sealed by
        /// someone who holds a data key but not the master key (a compromised client).
        case unrecordedSnapshot = "unrecorded-snapshot"
        /// An object no index or snapshot refers to: a note, not a problem.
        case stray
        /// A location that cannot be listed.
        case unlistable
        /// An archived report that opens but names a file that is no plain file name
        /// (`../x`, `a/b`): forged by someone holding a data key, or damaged.
        case malformedReport = "malformed-report"
        /// A snapshot whose date is ahead of this host's clock (a run with `--now`, or a
        /// wrong clock): a note; 'latest' goes by the order snapshots were written in.
        case futureSnapshot = "future-snapshot"

        /// The raw value.
        public var description: String { rawValue }
    }
    /// A note rather than a problem: verify still succeeds (stray objects, future dates).
    public var isNote: Bool { kind == .stray || kind == .futureSnapshot }
    /// What is wrong.
    public let kind: Kind
    /// Short ids of the snapshots that need the object.
    public let snapshots: [String]
    /// Whether verify repaired it.
    public var repaired: Bool
    /// What was found, in words.
    public var detail: String

    /// A problem with the given parts.
    public init(location: String, object: String, kind: Kind, snapshots: [String], repaired: Bool, detail: String) {
        self.location = location; self.object = object; self.kind = kind; self.snapshots = snapshots
        self.repaired = repaired; self.detail = detail
    }
}

/// What verify checked and found.
public struct VerifyReport: Sendable {
    /// Snapshots checked.
    public var snapshots = 0
    /// Packs the indexes name.
    public var packs = 0
    /// Packs read and authenticated in full.
    public var packsRead = 0
    /// Shards whose presence (and, for packs read, authenticity) was checked.
    public var shardsChecked = 0
    /// Everything found, repaired or not.
    public var problems: [VerifyProblem] = []
    /// What is still wrong: problems not repaired, strays aside.
    public var unrepaired: [VerifyProblem] { problems.filter { !$0.repaired && !$0.isNote } }
}

extension Repository {
    /// How far ahead of this host's clock a snapshot's date may be before it is noted.
    public static let clockSkew: TimeInterval = 300

    /// Checks the repository: first structure (every snapshot's blobs indexed, every shard
    /// and every replicated object present where the layout says), then, for the packs in
    /// `readPacks`, authentication of every shard. With `repair`, missing or corrupt shards
    /// are rebuilt from the other shards (or taken from `otherRegion`) and written before
    /// anything is removed; missing copies of replicated objects are copied again.
    ///
    /// Every copy of every replicated object is authenticated (a planted, truncated or
    /// flipped copy in one location is that copy's problem), and a repair rebuilds a pack
    /// from any `data` authentic shards found across this region and `otherRegions`.
    public func verify(
        readPacks: (([PackEntry]) -> [PackEntry])? = nil, repair: Bool = false,
        otherRegions: [Repository] = [], progress: (_ packsDone: Int64, _ packsTotal: Int64) -> Void = { _, _ in }
    ) throws -> VerifyReport {
        var report = VerifyReport()
        // A remote location that cannot be listed would look empty below: say so first. (A
        // local location's missing folder is a lost location: the checks below find every
        // object it lacks, and repair rebuilds them.)
        for loc in locations where loc.capabilities.isRemote {
            do { _ = try loc.list(prefix: "snapshots/") } catch {
                report.problems.append(
                    VerifyProblem(
                        location: loc.name, object: "(listing)", kind: .unlistable, snapshots: [], repaired: false,
                        detail: "cannot list the location, so its objects cannot be checked: \(error)"))
            }
        }
        let index = try loadIndex()
        let snapshots = try self.snapshots()
        report.snapshots = snapshots.count
        for s in snapshots where s.time.timeIntervalSince(clock.now) > Self.clockSkew {
            report.problems.append(
                VerifyProblem(
                    location: region, object: "snapshots/\(s.id.hex)", kind: .futureSnapshot, snapshots: [s.id.short], repaired: false,
                    detail: "dated \(Timestamp.string(s.time)), ahead of this host's clock (a run with --now, or a wrong clock); "
                        + "'latest' is the last snapshot written, whatever its date"))
        }
        report.packs = index.packs.count
        // Which snapshots need which pack, for the report.
        var needers: [ObjectID: Set<String>] = [:]
        for s in snapshots {
            for f in [s.database] + s.documents {
                for b in f.blobs {
                    guard let p = index.blobs[b] else {
                        report.problems.append(
                            VerifyProblem(
                                location: region, object: "blob \(b.hex.prefix(16))…", kind: .missingBlob,
                                snapshots: [s.id.short], repaired: false,
                                detail: "\(f.path) needs a blob no index lists"))
                        continue
                    }
                    needers[p, default: []].insert(s.id.short)
                }
            }
        }
        if repair { for loc in locations { try? loc.prepare() } }

        // Replicated objects: an authentic copy in every location. What one location alone
        // holds and cannot back (planted) is no object of the region: named, left untouched.
        var replicated = ["config"]
        // What leafguard removed on purpose and a location still holds (it refused the
        // removal then): no part of the region; a repair finishes the removal.
        let finished = repair ? Set(finishRemovals().removed.map { "\($0.location) \($0.name)" }) : []
        for prefix in ["keys/", "index/", "snapshots/", "reports/"] {
            let (names, planted, removing) = replicatedNamesAndRemovals(prefix: prefix)
            for (location, name) in removing {
                report.problems.append(
                    VerifyProblem(
                        location: location, object: name, kind: .stray, snapshots: [], repaired: finished.contains("\(location) \(name)"),
                        detail: "removed on purpose (a tombstone names it), but this location missed the removal; --repair removes it"))
            }
            replicated += names
            for (location, name) in planted {
                report.problems.append(
                    VerifyProblem(
                        location: location, object: name, kind: .stray, snapshots: [], repaired: false,
                        detail: "in this location only, and not authentic (planted?); not part of the region, left untouched"))
            }
        }
        // Archived reports, when data is read (a million-user scan's report is tens of MB):
        // each file name a plain name ('reports get' refuses any other).
        for name in replicated where readPacks != nil && name.hasPrefix("reports/") {
            guard let id = ObjectID(hex: String(name.dropFirst(8))), let stored = try? loadReport(id) else { continue }
            for file in stored.files.keys.sorted() where !isPlainFileName(file) {
                report.problems.append(
                    VerifyProblem(
                        location: region, object: name, kind: .malformedReport, snapshots: [], repaired: false,
                        detail: "names a file '\(file.prefix(80))', which is not a plain file name: forged by a holder of a data key, or damaged"))
            }
        }
        for name in replicated {
            var good: [UInt8]?
            for loc in locations {
                let kind: VerifyProblem.Kind
                let detail: String
                switch Result(catching: { try loc.size(of: name) }) {
                case .success(nil):
                    kind = .missingCopy; detail = "a copy of a replicated object is missing"
                case .success(.some):
                    guard let bytes = try? loc.get(name) else { kind = .corruptCopy; detail = "the copy cannot be read"; break }
                    if copyIsAuthentic(bytes, name: name) { good = good ?? bytes; continue }
                    kind = .corruptCopy; detail = "the copy does not authenticate (altered, truncated or planted); the other copies are used"
                case .failure(let e):
                    kind = .missingCopy; detail = "cannot be checked: \(e)"
                }
                var p = VerifyProblem(location: loc.name, object: name, kind: kind, snapshots: [], repaired: false, detail: detail)
                if repair, let bytes = good ?? (try? readAuthenticCopy(name)) {
                    p.repaired = (try? (kind == .corruptCopy ? loc.replace(name, bytes) : loc.put(name, bytes))) != nil
                    if p.repaired && kind == .corruptCopy { try? loc.sync() }
                }
                report.problems.append(p)
            }
        }

        // Shards: presence for all packs, authentication for the packs to read.
        let toRead = Set((readPacks?(Array(index.packs.values)) ?? []).map(\.id))
        for (n, entry) in index.packs.values.sorted(by: { $0.id < $1.id }).enumerated() {
            progress(Int64(n), Int64(index.packs.count))
            let read = toRead.contains(entry.id)
            if read { report.packsRead += 1 }
            let key = try dataKey(entry.dataKey)
            var bad: [(Int, VerifyProblem.Kind, String)] = []  // shard, kind, detail
            for i in 0..<(entry.dataShards + entry.parityShards) {
                let name = Self.shardName(entry.id, i)
                let candidates = shardLocations(entry, i)
                guard let loc = candidates.first(where: { (try? locations[$0].size(of: name)) ?? nil != nil }) else {
                    bad.append((i, .missing, "not in \(candidates.map { locations[$0].name }.joined(separator: " or "))"))
                    continue
                }
                guard read else { continue }
                report.shardsChecked += 1
                do {
                    let bytes = try locations[loc].get(name)
                    let h = try EnvelopeHeader.decode(bytes)
                    guard h.describes(shard: i, of: entry) else { throw RepositoryError.malformed("header does not match the index") }
                    _ = try Envelope.open(bytes, header: h, key: key.secret)
                } catch {
                    bad.append((i, .corrupt, error is SodiumError ? "fails authentication" : "\(error)"))
                }
            }
            guard !bad.isEmpty else { continue }
            var rebuilt: [[UInt8]]?
            var why = ""
            if repair {
                do { rebuilt = try rebuildShards(entry, key: key, others: otherRegions) } catch { why = "\(error)" }
            }
            for (i, kind, detail) in bad {
                let name = Self.shardName(entry.id, i)
                let locIndex = shardLocations(entry, i).first ?? 0
                var p = VerifyProblem(
                    location: locations[locIndex].name, object: name, kind: kind,
                    snapshots: (needers[entry.id] ?? []).sorted(), repaired: false, detail: detail)
                if let rebuilt, !authentic(rebuilt[i], entry: entry, index: i, key: key) {
                    p.detail += "; the rebuilt shard does not authenticate, not written"
                } else if let rebuilt {
                    do {
                        try replaceShard(name, at: locations[locIndex], with: rebuilt[i], corrupt: kind == .corrupt)
                        p.repaired = true
                    } catch { p.detail += "; repair failed: \(error)" }
                } else if repair {
                    p.detail += "; cannot rebuild: fewer than \(entry.dataShards) authentic shards across every region (\(why))"
                }
                report.problems.append(p)
            }
        }

        // Stray files: anything in a location that is not a leafguard object name.
        for loc in locations {
            guard let names = try? loc.list(prefix: "") else { continue }
            for n in names
            where
                !(n == "config" || n == "keyring" || n.hasPrefix("keys/") || n.hasPrefix("index/") || n.hasPrefix("snapshots/") || n.hasPrefix("data/")
                || n.hasPrefix("locks/") || n.hasPrefix("audit/") || n.hasPrefix("heads/") || n.hasPrefix("tombstones/") || n.hasPrefix("reports/"))
            {
                report.problems.append(
                    VerifyProblem(
                        location: loc.name, object: n, kind: .stray, snapshots: [], repaired: false,
                        detail: "not a leafguard object; left untouched"))
            }
        }
        return report
    }

    /// Every shard of a pack as sealed bytes, from any `data` authentic shards of it in this
    /// region and `others` together: the pack is decoded, re-encoded, and each shard sealed
    /// under its recorded nonce (reproducing the original ciphertext) or, where the index
    /// records none, a fresh random one (a shard carries its nonce in its header).
    func rebuildShards(_ entry: PackEntry, key: DataKey, others: [Repository]) throws -> [[UInt8]] {
        let total = entry.dataShards + entry.parityShards
        let (pack, _) = try readPack(entry, alsoFrom: others)
        let rs = try ReedSolomon(dataShards: entry.dataShards, parityShards: entry.parityShards)
        let plain = pack.withUnsafeBytes { rs.encode($0) }
        return try (0..<total).map { i in
            var nonce = Sodium.randomBytes(key.algorithm.nonceLength)
            if let nonces = entry.nonces, nonces.count == total {
                guard let recorded = hexBytes(nonces[i]), recorded.count == nonce.count else { throw RepositoryError.malformed("bad nonce in index") }
                nonce = recorded
            }
            let h = EnvelopeHeader(
                algorithm: key.algorithm, kind: .shard, shardIndex: UInt8(i),
                dataShards: UInt8(entry.dataShards), parityShards: UInt8(entry.parityShards),
                objectID: entry.id, keyID: entry.dataKey, plaintextLength: UInt64(entry.length), nonce: nonce)
            return try Envelope.seal(plain[i], header: h, key: key.secret)
        }
    }

    /// Whether `bytes` is an authentic copy of the replicated object `name`: it opens under
    /// the key its header names and its header names the object the name does.
    public func copyIsAuthentic(_ bytes: [UInt8], name: String) -> Bool {
        guard let h = try? EnvelopeHeader.decode(bytes) else { return false }
        let parts = name.split(separator: "/")
        switch parts.first {
        case "config": guard h.kind == .config, h.objectID == config.id else { return false }
        case "keys" where parts.count == 2:
            if parts[1].hasPrefix("set-") {
                guard h.kind == .keySet, ObjectID(hex: String(parts[1].dropFirst(4))) == h.objectID else { return false }
            } else {
                guard h.kind == .dataKey, ObjectID(hex: String(parts[1])) == h.objectID else { return false }
            }
        case "index" where parts.count == 2: guard h.kind == .index, ObjectID(hex: String(parts[1])) == h.objectID else { return false }
        case "snapshots" where parts.count == 2: guard h.kind == .snapshot, ObjectID(hex: String(parts[1])) == h.objectID else { return false }
        case "reports": guard h.kind == .report else { return false }
        default: return false
        }
        do {
            let key =
                (h.kind == .dataKey || h.kind == .keySet) ? try wrappingKey(version: h.keyID.asMasterVersion, dataKey: h.objectID) : try dataKey(h.keyID).secret
            _ = try Envelope.open(bytes, header: h, key: key)
            return true
        } catch { return false }
    }

    /// Writes a rebuilt shard before removing anything: to `<name>.repair`, then (for a
    /// corrupt one) removes the bad copy, links the repaired one into place, drops the temporary.
    func replaceShard(_ name: String, at location: any ObjectStore, with bytes: [UInt8], corrupt: Bool) throws {
        let temp = name + ".repair"
        if (try? location.size(of: temp)) ?? nil != nil { try location.delete(temp) }
        try location.put(temp, bytes)
        if corrupt { try? location.delete(name) }
        try location.put(name, try location.get(temp))
        try location.delete(temp)
    }
}
