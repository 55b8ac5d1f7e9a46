import Foundation
import LeafConcurrency
import LeafErasure
import LeafKeys
import LeafSodium
import LeafStorage
import LeafTime

/// One region's repository: its locations, the master key that opens its data keys, and
/// the read and write paths for every object kind.
///
/// Layout in every location (see docs/format.md):
///
///     config                     repository config (copy in every location)
///     keys/<id>                  a wrapped data key (copy in every location)
///     keys/set-<id>              data keys wrapped together by a rotation (copy in every location)
///     index/<id>                 index objects (copy in every location)
///     snapshots/<id>             snapshot manifests (copy in every location)
///     data/<id[0..2]>/<id>.<i>   shard i of pack <id> (one location each)
public final class Repository: Sendable {
    /// The region's name.
    public let region: String
    /// The region's locations, in order: shard i of a pack goes to the location its entry names.
    public let locations: [any ObjectStore]
    /// The active master-key version: it wraps new data keys.
    public let master: MasterKey
    /// Every master-key version that may unwrap data keys (the active one included).
    public let decryptKeys: [UInt32: MasterKey]
    /// The repository's config (its id and the key that names blobs).
    public let config: RepositoryConfig
    /// The key that names blobs (`crypto_kdf(id key, 1, "lgblobid")`).
    private let blobKey: SecureBytes
    private let keyCache: Locked<[ObjectID: DataKey]>
    let keySets = KeySetIndex()
    /// Where a master-key version unknown to `decryptKeys` is looked up (the deployment
    /// reads its keyring again: another process may have rotated the key since), and what it
    /// gave.
    private let laterVersions = Locked<(@Sendable (UInt32) -> MasterKey?)?>(nil)
    private let laterKeys = Locked<[UInt32: MasterKey]>([:])

    /// The largest number of lost copies a replicated object may suffer and still be written.
    public let tolerableFailures: Int
    /// Writes that reached enough locations but not every one, each with the location and
    /// the reason, until `takeWriteProblems` hands them on.
    private let writeProblems = Locked<[String]>([])

    /// The locations that refused a write since the last call, with their reasons.
    public func takeWriteProblems() -> [String] {
        writeProblems.withLock { p in
            defer { p = [] }; return p
        }
    }

    /// Records writes (and removals) a location refused within the tolerance.
    public func noteWriteProblems(_ problems: [String]) {
        guard !problems.isEmpty else { return }
        writeProblems.withLock { $0 += problems }
    }
    /// The time recorded in what this repository writes: pack seal times (which re-encryption
    /// by age reads), the config's creation, tombstones, locks and prune's default instant.
    public let clock: Clock

    private init(
        region: String, locations: [any ObjectStore], master: MasterKey, decryptKeys: [UInt32: MasterKey], config: RepositoryConfig,
        blobKey: SecureBytes, knownKeys: [DataKey] = [], tolerableFailures: Int, clock: Clock
    ) {
        self.region = region; self.locations = locations; self.master = master; self.clock = clock
        self.decryptKeys = decryptKeys.merging([master.version: master]) { a, _ in a }
        self.config = config; self.blobKey = blobKey; self.tolerableFailures = tolerableFailures
        keyCache = Locked(Dictionary(knownKeys.map { ($0.id, $0) }) { a, _ in a })
    }

    /// Opens the repository in `locations`, creating it when `create` is true and no
    /// location holds a config yet. A wrong master key fails here, before anything is written.
    public static func open(
        region: String, locations: [any ObjectStore], master: MasterKey, decryptKeys: [UInt32: MasterKey] = [:],
        create: Bool, tolerableFailures: Int = 0, clock: Clock = Clock()
    ) throws -> Repository {
        let keys = decryptKeys.merging([master.version: master]) { a, _ in a }
        var votes = CopyVotes()
        var copies: [(String, [UInt8])] = []
        for loc in locations {
            do { copies.append((loc.name, try loc.get("config"))) } catch let e as StorageError { votes.storage(e) }
        }
        // Every copy is one vote: the first that authenticates is the config, and a copy that
        // is altered, truncated, planted or another repository's is that copy's problem.
        for (source, bytes) in copies {
            do {
                let header = try EnvelopeHeader.decode(bytes)
                guard header.kind == .config else { throw RepositoryError.malformed("not a config object") }
                // The config names its id key; a repository with a placeholder config finds it
                // like any data key (alone or in a key set), then opens the real config with it.
                let placeholder = RepositoryConfig(id: header.objectID, created: Date(timeIntervalSince1970: 0), idKey: header.keyID)
                // It names no blob: its blob key is a throwaway.
                let finder = Repository(
                    region: region, locations: locations, master: master, decryptKeys: keys, config: placeholder,
                    blobKey: try .random(count: 32), tolerableFailures: tolerableFailures, clock: clock)
                let idKey = try finder.dataKey(header.keyID)
                let plain = try Envelope.open(bytes, header: header, key: idKey.secret)
                let cfg = try JSON.decoder.decode(RepositoryConfig.self, from: Data(plain))
                guard cfg.id == header.objectID, cfg.idKey == header.keyID else { throw RepositoryError.malformed("config names another repository") }
                return Repository(
                    region: region, locations: locations, master: master, decryptKeys: keys, config: cfg,
                    blobKey: try KDF.derive(from: idKey.secret, id: 1, context: "lgblobid"), knownKeys: [idKey],
                    tolerableFailures: tolerableFailures, clock: clock)
            } catch {
                votes.failed(error, prefix: "\(source)/config")
            }
        }
        if !copies.isEmpty {
            // "Wrong master key" only when that is why every copy failed.
            if let wrongKey = votes.wrongKey, votes.wrongKeyCopies == copies.count, votes.unreachable == 0 { throw wrongKey }
            throw RepositoryError.unreadable(object: "config", problems: votes.problems)
        }
        guard create else {
            // No location folder at all, or folders without a config: nothing was ever stored here.
            if votes.missingObjects > 0 || votes.unreachable == 0 { throw RepositoryError.notInitialized(region: region) }
            throw RepositoryError.unreadable(object: "config", problems: votes.problems)
        }
        for loc in locations { try loc.prepare() }
        // A new repository: an id key (wrapped like any data key) and a config sealed by it.
        let idKey = try DataKey.generate()
        let cfg = RepositoryConfig(id: .random(), created: clock.now, idKey: idKey.id)
        let repo = Repository(
            region: region, locations: locations, master: master, decryptKeys: keys, config: cfg,
            blobKey: try KDF.derive(from: idKey.secret, id: 1, context: "lgblobid"), tolerableFailures: tolerableFailures,
            clock: clock)
        try repo.storeDataKey(idKey)
        let header = EnvelopeHeader(
            algorithm: idKey.algorithm, kind: .config, objectID: cfg.id, keyID: idKey.id,
            plaintextLength: 0, nonce: idKey.nextNonce())
        let json = [UInt8](try JSON.encoder.encode(cfg))
        var h = header; h.plaintextLength = UInt64(json.count)
        try repo.putReplicated("config", try Envelope.seal(json, header: h, key: idKey.secret))
        return repo
    }

    // MARK: Blob naming

    /// The keyed id of a blob whose SHA-256 is `digest`.
    public func blobID(sha256 digest: [UInt8]) -> BlobID {
        BlobID(KeyedHash.hash(digest, key: blobKey, length: 32))
    }

    /// The keyed id of chunk `index` of a document whose SHA-256 is `digest`.
    public func blobID(document digest: [UInt8], chunk index: Int, length: Int) -> BlobID {
        var msg = Array("doc".utf8) + digest
        withUnsafeBytes(of: UInt64(index).bigEndian) { msg += $0 }
        withUnsafeBytes(of: UInt64(length).bigEndian) { msg += $0 }
        return BlobID(KeyedHash.hash(msg, key: blobKey, length: 32))
    }

    // MARK: Data keys

    /// A fresh data key for this session, stored wrapped before it seals anything.
    public func newDataKey() throws -> DataKey {
        let key = try DataKey.generate()
        try storeDataKey(key)
        keyCache.withLock { $0[key.id] = key }
        return key
    }

    /// Stores `key` wrapped under the active version without keeping it (see `newDataKey`).
    public func storeDataKey(_ key: DataKey) throws {
        try putReplicated("keys/\(key.id.hex)", try key.wrap(master: try master.wrappingKey(), masterVersion: master.version))
    }

    /// Loads (and caches) the data key `id`: from its own object `keys/<id>` or, once a
    /// rotation has gathered it, from a key set.
    public func dataKey(_ id: ObjectID) throws -> DataKey {
        if let k = keyCache.withLock({ $0[id] }) { return k }
        let key = try findDataKey(id)
        keyCache.withLock { $0[id] = key }
        return key
    }

    /// Drops a data key from the cache (its objects were removed).
    func forgetDataKey(_ id: ObjectID) {
        keyCache.withLock { $0[id] = nil }
    }

    private func findDataKey(_ id: ObjectID) throws -> DataKey {
        var problems: [String] = []
        do {
            return try readReplicated("keys/\(id.hex)") { bytes in
                try DataKey.unwrap(bytes, expectedID: id) { v in try self.wrappingKey(version: v, dataKey: id) }
            }
        } catch RepositoryError.notFoundAnywhere {
            // Not alone: perhaps in a set.
        } catch RepositoryError.unreadable(_, let p) {
            problems += p
        }
        // Not alone: in a set. Sets read before a rotation wrote a new one are read again.
        for refresh in [false, true] {
            let (key, failures) = try keySets.find(id, in: self, refresh: refresh)
            if let key { return key }
            if refresh {
                let later = laterKeys.value
                if problems.isEmpty, let v = failures.compactMap({ $0.1 }).first(where: { decryptKeys[$0] == nil && later[$0] == nil }) {
                    throw RepositoryError.wrongMasterKey(version: v, dataKey: id.hex)
                }
                problems += failures.map { "\($0.0): \($0.2)" }
            }
        }
        if problems.isEmpty { throw RepositoryError.notFoundAnywhere(object: "keys/\(id.hex)") }
        throw RepositoryError.unreadable(object: "keys/\(id.hex)", problems: problems)
    }

    /// Asks `lookup` for a master-key version this repository was not opened with, before
    /// saying a data key is wrapped by an unknown one: a rotation by another process (a
    /// `keys rotate` during a backup) re-wraps data keys under a version created after this
    /// process read its keyring.
    public func lookUpLaterVersions(with lookup: @escaping @Sendable (UInt32) -> MasterKey?) {
        laterVersions.set(lookup)
    }

    /// The wrapping key of master-key version `version`, if this repository holds it or the
    /// later-version lookup finds it.
    func wrappingKey(version: UInt32, dataKey id: ObjectID) throws -> SecureBytes {
        if let k = decryptKeys[version] ?? laterKeys.withLock({ $0[version] }) { return try k.wrappingKey() }
        if let lookup = laterVersions.value, let k = lookup(version) {
            laterKeys.withLock { $0[version] = k }
            return try k.wrappingKey()
        }
        throw RepositoryError.wrongMasterKey(version: version, dataKey: id.hex)
    }

    // MARK: Replicated objects

    /// Writes `bytes` to every location. An object already present is left as it is.
    /// Throws unless at least `locations - tolerableFailures` copies exist afterwards.
    public func putReplicated(_ name: String, _ bytes: [UInt8]) throws {
        var ok = 0
        var problems: [String] = []
        for loc in locations {
            do { try loc.put(name, bytes); ok += 1 } catch let e as StorageError {
                if case .alreadyExists = e { ok += 1 } else { problems.append(e.description) }
            }
        }
        let needed = locations.count - tolerableFailures
        if ok < needed {
            throw RepositoryError.insufficientLocations(region: region, written: ok, needed: needed, problems: problems)
        }
        noteWriteProblems(problems)
    }

    /// Reads the first copy of `name` that `decode` accepts (copies failing authentication are skipped).
    public func readReplicated<T>(_ name: String, _ decode: ([UInt8]) throws -> T) throws -> T {
        var votes = CopyVotes()
        for loc in locations {
            do {
                let bytes = try loc.get(name)
                return try decode(bytes)
            } catch {
                // One location's copy under an unknown version is that copy's problem: the
                // others may open. Said as the reason only when no copy does.
                votes.failed(error, prefix: loc.name)
            }
        }
        if votes.absent == votes.count { throw RepositoryError.notFoundAnywhere(object: name) }
        if let wrongKey = votes.wrongKey, votes.onlyWrongKeyOrAbsent { throw wrongKey }
        throw RepositoryError.unreadable(object: name, problems: votes.problems)
    }

    /// The bytes of the first copy of a replicated object that authenticates (data keys and
    /// locks under the wrapping key, everything else under the data key it names): what is
    /// safe to copy elsewhere as it is.
    public func readAuthenticCopy(_ name: String) throws -> [UInt8] {
        try readReplicated(name) { bytes in
            let h = try EnvelopeHeader.decode(bytes)
            let key =
                (h.kind == .dataKey || h.kind == .lock || h.kind == .keySet || h.kind == .tombstone)
                ? try wrappingKey(version: h.keyID.asMasterVersion, dataKey: h.objectID) : try dataKey(h.keyID).secret
            _ = try Envelope.open(bytes, header: h, key: key)
            return bytes
        }
    }

    /// Names under `prefix` in any location (union), less what one location alone holds and
    /// cannot back with an authentic copy (see `replicatedNames`).
    public func listReplicated(prefix: String) -> [String] {
        replicatedNames(prefix: prefix).names
    }

    /// Names under `prefix` in any location, and apart from them the names `planted`: held
    /// by one location only, of several listed, whose copy there does not authenticate.
    /// Whoever owns one location cannot add an object to the region: a junk `snapshots/ffff…`
    /// would otherwise be listed, fail to read, and stop every listing, restore, backup and
    /// replication of the region. A name several locations hold stays, whatever its copies
    /// hold: that is damage, for verify to report and repair. Only names whose authenticity
    /// this repository can judge (config, keys, indexes, snapshots, reports) are weighed; a
    /// killed run's object in one location is authentic and stays. A name outside the
    /// repository's grammar (`ObjectNames`) is planted wherever it is, and never read.
    public func replicatedNames(prefix: String) -> (names: [String], planted: [(location: String, name: String)]) {
        let all = replicatedNamesAndRemovals(prefix: prefix)
        return (all.names, all.planted)
    }

    /// `replicatedNames`, and apart from both the names an authentic tombstone says leafguard
    /// removed on purpose that a location still holds (`removing`): a location that refused
    /// the removal, mended later, must not bring back what prune removed. Tombstones are read
    /// only when some name is missing from some location, so a healthy region pays nothing.
    public func replicatedNamesAndRemovals(
        prefix: String
    ) -> (names: [String], planted: [(location: String, name: String)], removing: [(location: String, name: String)]) {
        var holders: [String: [Int]] = [:]
        var listed = 0
        for (i, loc) in locations.enumerated() {
            guard let names = try? loc.list(prefix: prefix) else { continue }
            listed += 1
            for n in names { holders[n, default: []].append(i) }
        }
        var names: [String] = []
        var planted: [(location: String, name: String)] = []
        var removing: [(location: String, name: String)] = []
        let pending: Set<String> =
            prefix != Self.tombstonePrefix && holders.values.contains(where: { $0.count < locations.count })
            ? Set(tombstones().flatMap(\.removes)) : []
        for (name, at) in holders {
            if ObjectNames.maximumSize(of: name) == nil {
                planted += at.map { (locations[$0].name, name) }
                continue
            }
            if pending.contains(name) {
                removing += at.map { (locations[$0].name, name) }
                continue
            }
            if listed > 1, at.count == 1, Self.judgesAuthenticity(of: name) {
                let loc = locations[at[0]]
                guard let bytes = try? loc.get(name), copyIsAuthentic(bytes, name: name) else {
                    planted.append((loc.name, name))
                    continue
                }
            }
            names.append(name)
        }
        return (names.sorted(), planted.sorted { $0.name < $1.name }, removing.sorted { $0.name < $1.name })
    }

    /// Removes from every location what an authentic tombstone says was removed on purpose
    /// and a location still holds (it refused the removal then). Returns what it removed,
    /// and the locations that refused again.
    @discardableResult
    public func finishRemovals() -> (removed: [(location: String, name: String)], refused: [String]) {
        let pending = Set(tombstones().flatMap(\.removes))
        var removed: [(location: String, name: String)] = []
        var refused: [String] = []
        for name in pending.sorted() {
            for loc in locations where ((try? loc.size(of: name)) ?? nil) != nil {
                do {
                    try loc.delete(name)
                    removed.append((loc.name, name))
                } catch { refused.append("\(error)") }
            }
        }
        return (removed, refused)
    }

    /// Whether every location can be listed and holds none of `names`: a removal is done
    /// only then (a location that cannot be listed may still hold them).
    public func everyLocationLacks(_ names: [String]) -> Bool {
        let prefixes = Set(names.compactMap { name in name.firstIndex(of: "/").map { String(name[...$0]) } })
        let wanted = Set(names)
        for loc in locations {
            for prefix in prefixes {
                guard let listed = try? loc.list(prefix: prefix) else { return false }
                if listed.contains(where: wanted.contains) { return false }
            }
        }
        return true
    }

    /// The names `copyIsAuthentic` can judge.
    static func judgesAuthenticity(of name: String) -> Bool {
        name == "config" || name.hasPrefix("keys/") || name.hasPrefix("index/") || name.hasPrefix("snapshots/") || name.hasPrefix("reports/")
    }

    /// Names under `prefix` in any of `stores` (union), sorted; unreadable stores add none.
    static func names(in stores: [any ObjectStore], prefix: String) -> [String] {
        var names = Set<String>()
        for loc in stores { if let l = try? loc.list(prefix: prefix) { names.formUnion(l) } }
        return names.sorted()
    }

    /// Seals a metadata object (index, snapshot) under `key` and stores it everywhere.
    func putSealed(_ name: String, kind: ObjectKind, id: ObjectID, json: [UInt8], key: DataKey) throws {
        let header = EnvelopeHeader(
            algorithm: key.algorithm, kind: kind, objectID: id, keyID: key.id,
            plaintextLength: UInt64(json.count), nonce: key.nextNonce())
        try putReplicated(name, try Envelope.seal(json, header: header, key: key.secret))
    }

    /// Reads and opens a sealed manifest object (`index/…`, `snapshots/…`) from the region.
    /// Internal to the format; the fuzz harness seeds its plaintext corpora through this SPI.
    @_spi(Fuzzing) public func readSealed(_ name: String, kind: ObjectKind, id: ObjectID) throws -> [UInt8] {
        try readReplicated(name) { bytes in
            let header = try EnvelopeHeader.decode(bytes)
            guard header.kind == kind, header.objectID == id else { throw RepositoryError.malformed("\(name) holds another object") }
            return try Envelope.open(bytes, header: header, key: try self.dataKey(header.keyID).secret)
        }
    }

    // MARK: Indexes and snapshots

    /// Seals `index` under `key` as a new `index/<id>` in every location; returns its id.
    public func writeIndex(_ index: IndexManifest, key: DataKey) throws -> ObjectID {
        let id = ObjectID.random()
        try putSealed("index/\(id.hex)", kind: .index, id: id, json: [UInt8](try JSON.encoder.encode(index)), key: key)
        return id
    }

    /// Every pack every index names, keyed by blob id. The first pack listing a blob wins.
    public func loadIndex() throws -> (packs: [ObjectID: PackEntry], blobs: [BlobID: ObjectID]) {
        var packs: [ObjectID: PackEntry] = [:]
        var blobs: [BlobID: ObjectID] = [:]
        for name in listReplicated(prefix: "index/") {
            guard let id = ObjectID(hex: String(name.dropFirst(6))) else { continue }
            let json = try readSealed(name, kind: .index, id: id)
            let manifest = try IndexManifest.decode(json)
            for p in manifest.packs {
                packs[p.id] = p
                for b in p.blobs where blobs[b.id] == nil { blobs[b.id] = p.id }
            }
        }
        return (packs, blobs)
    }

    /// Seals `snapshot` under `key` as `snapshots/<id>` in every location.
    public func writeSnapshot(_ snapshot: SnapshotManifest, key: DataKey) throws {
        try putSealed(
            "snapshots/\(snapshot.id.hex)", kind: .snapshot, id: snapshot.id,
            json: [UInt8](try JSON.encoder.encode(snapshot)), key: key)
        if CrashPoint.afterSnapshot { CrashPoint.die() }
    }

    /// The ids of the snapshots the region holds (names only, nothing opened).
    public func snapshotIDs() -> [ObjectID] {
        listReplicated(prefix: "snapshots/").compactMap { ObjectID(hex: String($0.dropFirst(10))) }
    }

    /// Reads and opens snapshot `id`.
    public func loadSnapshot(_ id: ObjectID) throws -> SnapshotManifest {
        let json = try readSealed("snapshots/\(id.hex)", kind: .snapshot, id: id)
        return try SnapshotManifest.decode(json)
    }

    /// Every snapshot, oldest first.
    public func snapshots() throws -> [SnapshotManifest] {
        try snapshotIDs().map(loadSnapshot).sorted { $0.time < $1.time || ($0.time == $1.time && $0.id < $1.id) }
    }

    /// The newest snapshot, found by its time-ordered id without reading the others.
    public func latestSnapshot() throws -> SnapshotManifest? {
        guard let id = snapshotIDs().max() else { return nil }
        return try loadSnapshot(id)
    }

    /// Resolves `latest`, a full id or a unique prefix.
    public func resolveSnapshot(_ text: String) throws -> SnapshotManifest {
        if text == "latest" {
            guard let last = try latestSnapshot() else { throw RepositoryError.snapshotNotFound("latest (the region has no snapshots)") }
            return last
        }
        // A full id, a prefix of it, or a prefix of the short form (the random part).
        let t = text.lowercased()
        let matches = snapshotIDs().filter { $0.hex.hasPrefix(t) || (t.count >= 4 && $0.short.hasPrefix(t)) }
        guard !text.isEmpty, !matches.isEmpty else { throw RepositoryError.snapshotNotFound(text) }
        guard matches.count == 1 else { throw RepositoryError.ambiguousSnapshot(text, matches: matches.count) }
        return try loadSnapshot(matches[0])
    }
}

/// What leafguard itself is about to remove from a region (prune, reencrypt, an accepted
/// loss): written to every location before the removal, sealed under the master key's
/// wrapping key like a lock (kind 9), so that no one without the key can make a deletion
/// look intended. The region's signed head (LeafJobs' RegionHeads) forgets these names
/// and keeps reporting anything else that vanished.
struct Tombstone: Codable { let names: [String]; let created: Date }

extension Repository {
    /// The folder tombstones are stored under.
    public static let tombstonePrefix = "tombstones/"

    /// Records `names` (snapshots and indexes) in a tombstone in every location, then
    /// removes them from every location. Nothing is removed when the tombstone cannot be
    /// stored.
    public func removeOnPurpose(_ names: [String]) throws {
        guard !names.isEmpty else { return }
        let id = ObjectID.random()
        let json = [UInt8](try JSON.encoder.encode(Tombstone(names: names.sorted(), created: clock.now)))
        let header = EnvelopeHeader(
            algorithm: .preferred, kind: .tombstone, objectID: id, keyID: .masterVersion(master.version),
            plaintextLength: UInt64(json.count), nonce: Sodium.randomBytes(AEADAlgorithm.preferred.nonceLength))
        try putReplicated(Self.tombstonePrefix + id.hex, try Envelope.seal(json, header: header, key: try master.wrappingKey()))
        // A location that refuses a removal keeps the name until `finishRemovals` (the next
        // prune, or verify --repair); the tombstone stays until no location holds it.
        var refused: [String] = []
        for name in names {
            for loc in locations {
                do { try loc.delete(name) } catch let e as StorageError where e.isAbsent {} catch { refused.append("\(error)") }
            }
        }
        noteWriteProblems(refused)
    }

    /// Every authentic tombstone of the region (name → the snapshot and index names it
    /// holds); a copy that does not open is skipped.
    public func tombstones() -> [(name: String, removes: [String])] {
        listReplicated(prefix: Self.tombstonePrefix).compactMap { name in
            try? readReplicated(name) { bytes -> (String, [String]) in
                let h = try EnvelopeHeader.decode(bytes)
                guard h.kind == .tombstone, Self.tombstonePrefix + h.objectID.hex == name else { throw RepositoryError.malformed("\(name) is not a tombstone") }
                let key = try wrappingKey(version: h.keyID.asMasterVersion, dataKey: h.objectID)
                let t = try JSON.decoder.decode(Tombstone.self, from: Data(try Envelope.open(bytes, header: h, key: key)))
                return (name, t.names.filter { $0.hasPrefix("snapshots/") || $0.hasPrefix("index/") })
            }
        }
    }

    /// Removes a tombstone whose removals are done and recorded in a head.
    public func removeTombstone(_ name: String) { for loc in locations { try? loc.delete(name) } }
}

/// The failed copies of one object, one vote per location, counted by kind so that what is
/// said about the object follows from the kinds and never from the words of a message.
struct CopyVotes {
    private(set) var problems: [String] = []
    private(set) var count = 0
    /// Locations that answered that the object is not there.
    private(set) var missingObjects = 0
    /// Locations that are not there themselves (no folder, no bucket).
    private(set) var missingLocations = 0
    /// Locations that could not be asked (unavailable, I/O errors, transient failures).
    private(set) var unreachable = 0
    /// Copies wrapped by a master-key version this keyring does not hold.
    private(set) var wrongKeyCopies = 0
    private(set) var wrongKey: RepositoryError?

    var absent: Int { missingObjects + missingLocations }

    /// A location's answer to the read itself, said as the store said it; an object that
    /// is simply not there is counted but is no problem of its own.
    mutating func storage(_ e: StorageError) {
        tally(e)
        if !e.isNotFound { problems.append(e.description) }
    }

    /// A copy that could not be read or did not open.
    mutating func failed(_ error: any Error, prefix: String) {
        switch error {
        case let e as StorageError:
            tally(e)
        case let e as RepositoryError:
            count += 1
            if case .wrongMasterKey = e { wrongKey = wrongKey ?? e; wrongKeyCopies += 1 }
        default:
            count += 1
        }
        problems.append("\(prefix): \(error is SodiumError ? "fails authentication" : "\(error)")")
    }

    private mutating func tally(_ e: StorageError) {
        count += 1
        switch e {
        case .notFound: missingObjects += 1
        case .missingLocation: missingLocations += 1
        default: unreachable += 1
        }
    }

    /// Every failed copy is under an unknown master key or not there at all.
    var onlyWrongKeyOrAbsent: Bool { wrongKeyCopies > 0 && wrongKeyCopies + absent == count }
}
