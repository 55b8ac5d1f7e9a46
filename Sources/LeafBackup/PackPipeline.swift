import Foundation
import LeafArchive
import LeafConcurrency
import LeafRepository

/// Collects blobs into packs and writes each full pack on a worker thread: tar (through
/// zstd when the blobs compress), Reed-Solomon, seal, store. At most `workers + 1` packs
/// are in memory at once, which bounds peak memory whatever the data size.
final class PackPipeline: Sendable {
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

    /// The packs being filled, touched by the caller's thread only (`add`, `finish`).
    private struct Filling {
        var compressible = Pending()
        var stored = Pending()
        var indexIDs: [ObjectID] = []
    }
    /// What the workers report.
    private struct Written {
        var completed: [PackEntry] = []
        var unindexed: [PackEntry] = []
        var firstError: (any Error)?
        var blobBytes: Int64 = 0
        var storedBytes: Int64 = 0
    }
    private let filling = Locked(Filling())
    private let written = Locked(Written())
    private let work: BoundedWork
    var indexIDs: [ObjectID] { filling.withLock { $0.indexIDs } }
    /// Plaintext bytes of blobs written, and bytes stored (all shards, sealed).
    var blobBytes: Int64 { written.withLock { $0.blobBytes } }
    var storedBytes: Int64 { written.withLock { $0.storedBytes } }

    init(
        repository: Repository, key: DataKey, packSize: Int, zstdLevel: Int, dataShards: Int, parityShards: Int,
        workers: Int, checkpointEvery: Int = 16
    ) {
        self.repository = repository; self.key = key; self.packSize = packSize; self.zstdLevel = zstdLevel
        self.dataShards = dataShards; self.parityShards = parityShards; self.checkpointEvery = checkpointEvery
        work = BoundedWork(width: workers, label: "leafguard.packs")
    }

    /// Adds a blob; a full pack goes to a worker. Throws the first worker error.
    func add(_ id: BlobID, _ bytes: [UInt8], compress: Bool) throws {
        try checkError()
        let full: Pending? = filling.withLock { f in
            if compress {
                f.compressible.blobs.append((id, bytes)); f.compressible.bytes += bytes.count
                if f.compressible.bytes >= packSize { defer { f.compressible = Pending() }; return f.compressible }
            } else {
                f.stored.blobs.append((id, bytes)); f.stored.bytes += bytes.count
                if f.stored.bytes >= packSize { defer { f.stored = Pending() }; return f.stored }
            }
            return nil
        }
        if let full { submit(full, compress: compress) }
        try checkpointIfDue()
    }

    private func checkError() throws {
        if let e = written.withLock({ $0.firstError }) { throw e }
    }

    private func submit(_ pending: Pending, compress: Bool) {
        guard !pending.blobs.isEmpty else { return }
        work.submit { [self] in
            do {
                let entry = try write(pending, compress: compress)
                let count = written.withLock { w in
                    w.completed.append(entry); w.unindexed.append(entry)
                    w.blobBytes += Int64(pending.bytes)
                    w.storedBytes += entry.storedBytes
                    return w.completed.count
                }
                // Pack buffers freed among long-lived small allocations strand heap pages;
                // handing free pages back every few packs keeps peak memory flat.
                if count % 32 == 0 { releaseFreeHeapPages() }
            } catch {
                written.withLock { if $0.firstError == nil { $0.firstError = error } }
            }
        }
    }

    private func write(_ work: Pending, compress: Bool) throws -> PackEntry {
        let tar = try TarWriter(zstdLevel: compress ? zstdLevel : nil, expectedSize: compress ? work.bytes / 2 : work.bytes + work.blobs.count * 1536)
        for (id, bytes) in work.blobs { try tar.add(name: id.hex, bytes: bytes) }
        let pack = try tar.finish()
        return try repository.writePack(
            id: .random(), pack: pack, compressed: compress,
            blobs: work.blobs.map { PackEntry.Blob(id: $0.0, length: $0.1.count) },
            dataShards: dataShards, parityShards: parityShards, key: key)
    }

    /// Writes an index for completed packs once enough have accumulated, so an interrupted
    /// run's work is found and reused by the next one.
    private func checkpointIfDue() throws {
        let batch: [PackEntry] = written.withLock { w in
            guard w.unindexed.count >= checkpointEvery else { return [] }
            defer { w.unindexed.removeAll() }
            return w.unindexed
        }
        if !batch.isEmpty { try writeIndex(batch) }
    }

    private func writeIndex(_ batch: [PackEntry]) throws {
        let id = try repository.writeIndex(IndexManifest(packs: batch), key: key)
        filling.withLock { $0.indexIDs.append(id) }
    }

    /// Flushes partial packs, waits for every worker, and indexes what remains.
    func finish() throws -> [PackEntry] {
        let (compressible, stored) = filling.withLock { f in
            defer { f.compressible = Pending(); f.stored = Pending() }
            return (f.compressible, f.stored)
        }
        submit(compressible, compress: true)
        submit(stored, compress: false)
        work.wait()
        try checkError()
        let (batch, completed) = written.withLock { w in
            defer { w.unindexed.removeAll() }
            return (w.unindexed, w.completed)
        }
        if !batch.isEmpty { try writeIndex(batch) }
        return completed
    }

    /// Waits for in-flight work without indexing, after an error elsewhere.
    func abandon() { work.wait() }
}

#if os(Linux)
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
    func releaseFreeHeapPages() { _ = glibcMallocTrim(0) }
#else
    func releaseFreeHeapPages() {}
#endif
