import Foundation
import LeafArchive
import LeafRepository

/// Collects blobs into packs and writes each full pack on a worker thread: tar (through
/// zstd when the blobs compress), Reed-Solomon, seal, store. At most `workers + 1` packs
/// are in memory at once, which bounds peak memory whatever the data size.
final class PackPipeline: @unchecked Sendable {
    struct Pending {
        var blobs: [(BlobID, [UInt8])] = []
        var bytes = 0
    }

    let repository: Repository
    let key: DataKey
    let packSize: Int
    let zstdLevel: Int
    let dataShards: Int
    let parityShards: Int
    let checkpointEvery: Int

    private var compressible = Pending()
    private var stored = Pending()
    private let lock = NSLock()
    private var completed: [PackEntry] = []
    private var unindexed: [PackEntry] = []
    private var firstError: (any Error)?
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let queue = DispatchQueue(label: "leafguard.packs", attributes: .concurrent)
    private(set) var indexIDs: [ObjectID] = []
    /// Plaintext bytes of blobs written, and bytes stored (all shards, sealed).
    private(set) var blobBytes: Int64 = 0
    private(set) var storedBytes: Int64 = 0

    init(repository: Repository, key: DataKey, packSize: Int, zstdLevel: Int, dataShards: Int, parityShards: Int,
         workers: Int, checkpointEvery: Int = 16) {
        self.repository = repository; self.key = key; self.packSize = packSize; self.zstdLevel = zstdLevel
        self.dataShards = dataShards; self.parityShards = parityShards; self.checkpointEvery = checkpointEvery
        slots = DispatchSemaphore(value: workers)
    }

    /// Adds a blob; a full pack goes to a worker. Throws the first worker error.
    func add(_ id: BlobID, _ bytes: [UInt8], compress: Bool) throws {
        try checkError()
        if compress {
            compressible.blobs.append((id, bytes)); compressible.bytes += bytes.count
            if compressible.bytes >= packSize { submit(&compressible, compress: true) }
        } else {
            stored.blobs.append((id, bytes)); stored.bytes += bytes.count
            if stored.bytes >= packSize { submit(&stored, compress: false) }
        }
        try checkpointIfDue()
    }

    private func checkError() throws {
        lock.lock(); defer { lock.unlock() }
        if let e = firstError { throw e }
    }

    private func submit(_ pending: inout Pending, compress: Bool) {
        let work = pending
        pending = Pending()
        guard !work.blobs.isEmpty else { return }
        slots.wait()
        group.enter()
        queue.async { [self] in
            defer { slots.signal(); group.leave() }
            do {
                let entry = try write(work, compress: compress)
                lock.lock()
                completed.append(entry); unindexed.append(entry)
                // Pack buffers freed among long-lived small allocations strand heap pages;
                // handing free pages back every few packs keeps peak memory flat.
                if completed.count % 32 == 0 { releaseFreeHeapPages() }
                blobBytes += Int64(work.bytes)
                storedBytes += entry.storedBytes
                lock.unlock()
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
        }
    }

    private func write(_ work: Pending, compress: Bool) throws -> PackEntry {
        let tar = try TarWriter(zstdLevel: compress ? zstdLevel : nil, expectedSize: compress ? work.bytes / 2 : work.bytes + work.blobs.count * 1536)
        for (id, bytes) in work.blobs { try tar.add(name: id.hex, bytes: bytes) }
        let pack = try tar.finish()
        return try repository.writePack(id: .random(), pack: pack, compressed: compress,
                                        blobs: work.blobs.map { PackEntry.Blob(id: $0.0, length: $0.1.count) },
                                        dataShards: dataShards, parityShards: parityShards, key: key)
    }

    /// Writes an index for completed packs once enough have accumulated, so an interrupted
    /// run's work is found and reused by the next one.
    private func checkpointIfDue() throws {
        lock.lock()
        let due = unindexed.count >= checkpointEvery
        let batch = due ? unindexed : []
        if due { unindexed.removeAll() }
        lock.unlock()
        if due { indexIDs.append(try repository.writeIndex(IndexManifest(packs: batch), key: key)) }
    }

    /// Flushes partial packs, waits for every worker, and indexes what remains.
    func finish() throws -> [PackEntry] {
        submit(&compressible, compress: true)
        submit(&stored, compress: false)
        group.wait()
        try checkError()
        lock.lock(); let batch = unindexed; unindexed.removeAll(); lock.unlock()
        if !batch.isEmpty { indexIDs.append(try repository.writeIndex(IndexManifest(packs: batch), key: key)) }
        return completed
    }

    /// Waits for in-flight work without indexing, after an error elsewhere.
    func abandon() { group.wait() }
}

#if os(Linux)
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
func releaseFreeHeapPages() { _ = glibcMallocTrim(0) }
#else
func releaseFreeHeapPages() {}
#endif
