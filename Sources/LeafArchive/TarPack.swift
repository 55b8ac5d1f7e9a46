internal import CArchive
import Foundation

/// An error libarchive reported, with its message.
public struct ArchiveError: Error, CustomStringConvertible, Equatable {
    /// libarchive's own words for what failed.
    public let message: String
    /// The message, marked as an archive error.
    public var description: String { "archive error: \(message)" }
}

/// Writes a pax tar archive in memory, optionally through zstd. Each entry is a regular
/// file; `bsdtar` and GNU tar list and extract the result.
public final class TarWriter {
    private let archive: OpaquePointer
    private let sink: Sink
    private var closed = false

    final class Sink { var bytes: [UInt8] = [] }

    /// - Parameters:
    ///   - zstdLevel: compress with zstd at this level; nil stores entries as they are.
    ///   - expectedSize: a hint to reserve the output buffer once.
    public init(zstdLevel: Int?, expectedSize: Int = 0) throws {
        guard let a = archive_write_new() else { throw ArchiveError(message: "out of memory") }
        archive = a
        sink = Sink()
        sink.bytes.reserveCapacity(expectedSize + 4096)
        try check(archive_write_set_format_pax_restricted(a))
        if let level = zstdLevel {
            try check(archive_write_add_filter_zstd(a))
            try check(archive_write_set_filter_option(a, "zstd", "compression-level", String(level)))
        } else {
            try check(archive_write_add_filter_none(a))
        }
        // No padding to 10 KiB blocks: the archive ends right after its end-of-archive marker.
        try check(archive_write_set_bytes_in_last_block(a, 1))
        let ctx = Unmanaged.passUnretained(sink).toOpaque()
        try check(
            archive_write_open2(
                a, ctx, nil,
                { _, ctx, buf, len in
                    guard let ctx, let buf else { return -1 }
                    let s = Unmanaged<Sink>.fromOpaque(ctx).takeUnretainedValue()
                    s.bytes.append(contentsOf: UnsafeRawBufferPointer(start: buf, count: len))
                    return len
                }, nil, nil))
    }

    deinit { archive_write_free(archive) }

    private func check(_ rc: Int32) throws {
        if rc < ARCHIVE_WARN { throw ArchiveError(message: archive_error_string(archive).map { String(cString: $0) } ?? "unknown") }
    }

    /// Adds a regular file entry named `name` holding `bytes`.
    public func add(name: String, bytes: UnsafeRawBufferPointer, modified: Date = Date(timeIntervalSince1970: 0)) throws {
        guard let e = archive_entry_new() else { throw ArchiveError(message: "out of memory") }
        defer { archive_entry_free(e) }
        archive_entry_set_pathname(e, name)
        archive_entry_set_size(e, la_int64_t(bytes.count))
        archive_entry_set_filetype(e, 0o100000)  // AE_IFREG
        archive_entry_set_perm(e, 0o600)
        archive_entry_set_mtime(e, time_t(modified.timeIntervalSince1970), 0)
        try check(archive_write_header(archive, e))
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let n = archive_write_data(archive, base + offset, bytes.count - offset)
            if n < 0 { try check(Int32(n)) }
            if n == 0 { throw ArchiveError(message: "write made no progress") }
            offset += n
        }
    }

    /// Appends one regular file named `name` holding `bytes` (mode 0600).
    public func add(name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try add(name: name, bytes: $0) }
    }

    /// Closes the archive and returns its bytes.
    public func finish() throws -> [UInt8] {
        if !closed {
            closed = true
            try check(archive_write_close(archive))
        }
        return sink.bytes
    }
}

/// Reads the entries of a tar archive in memory: plain, or zstd-compressed as `TarWriter`
/// writes it, nothing else (libarchive's other filters include ones that run an external
/// program). The bytes come from storage whoever owns one location can write, so each is
/// bounded before libarchive sees it: every zstd frame's window (what the decoder allocates)
/// and the total it can decompress to are read from the frame and block headers, and every
/// entry's size is checked before it is allocated.
public enum TarReader {
    /// The largest zstd window accepted (16 MiB; TarWriter's level 3 uses at most 2 MiB).
    public static let maximumWindow = 16 << 20
    /// The largest entry, and the most bytes all entries together, by default: a pack is
    /// about 8 MiB of blobs of at most 4 MiB.
    public static let defaultMaximumBytes = 64 << 20

    /// Calls `body` with each regular entry's name and contents, in archive order. Refused
    /// before anything is allocated: a zstd window over `maximumWindow`, frames that could
    /// decompress to more than `maximumBytes`, an entry larger than `maximumBytes`.
    public static func forEachEntry(
        in archiveBytes: [UInt8], maximumBytes: Int = defaultMaximumBytes, _ body: (String, [UInt8]) throws -> Void
    ) throws {
        if ZstdFrames.starts(archiveBytes) {
            let bound = try ZstdFrames.decompressedBound(archiveBytes, maximumWindow: maximumWindow)
            guard bound <= maximumBytes + (1 << 20) else {
                throw ArchiveError(message: "the archive could decompress to \(bound) bytes, more than the \(maximumBytes) it may hold")
            }
        }
        guard let a = archive_read_new() else { throw ArchiveError(message: "out of memory") }
        defer { archive_read_free(a) }
        archive_read_support_format_tar(a)
        archive_read_support_filter_none(a)
        archive_read_support_filter_zstd(a)
        func fail() -> ArchiveError { ArchiveError(message: archive_error_string(a).map { String(cString: $0) } ?? "unknown") }
        try archiveBytes.withUnsafeBytes { raw in
            guard archive_read_open_memory(a, raw.baseAddress, raw.count) == ARCHIVE_OK else { throw fail() }
            var entry: OpaquePointer?
            var total = 0
            while true {
                let rc = archive_read_next_header(a, &entry)
                if rc == ARCHIVE_EOF { break }
                guard rc >= ARCHIVE_WARN, let entry else { throw fail() }
                let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
                let declared = archive_entry_size(entry)
                guard declared >= 0, declared <= Int64(maximumBytes - total) else {
                    throw ArchiveError(message: "entry \(name.prefix(80)) declares \(declared) bytes, more than the archive may hold (\(maximumBytes))")
                }
                let size = Int(declared)
                total += size
                var data = [UInt8](repeating: 0, count: size)
                var got = 0
                while got < size {
                    let n = data.withUnsafeMutableBytes { raw in raw.baseAddress.map { archive_read_data(a, $0 + got, size - got) } ?? 0 }
                    if n < 0 { throw fail() }
                    if n == 0 { throw ArchiveError(message: "entry \(name) is truncated") }
                    got += n
                }
                try body(name, data)
            }
        }
    }
}

/// What zstd frames (RFC 8878) ask of a decoder, read from their frame and block headers
/// alone, without decompressing: linear in the input, no allocation.
enum ZstdFrames {
    static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    /// Whether `bytes` starts with a zstd frame (or a skippable frame).
    static func starts(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && (bytes[0..<4].elementsEqual(magic) || (bytes[0] & 0xF0 == 0x50 && bytes[1..<4].elementsEqual([0x2A, 0x4D, 0x18])))
    }

    /// The most bytes the frames can decompress to; throws when a frame's window is over
    /// `maximumWindow`, or the headers do not describe whole frames.
    static func decompressedBound(_ b: [UInt8], maximumWindow: Int) throws -> Int {
        func bad(_ why: String) -> ArchiveError { ArchiveError(message: "zstd: \(why)") }
        func little(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) } }
        var at = 0
        var bound = 0
        while at < b.count {
            guard at + 4 <= b.count else { throw bad("truncated frame magic") }
            if b[at] & 0xF0 == 0x50 && b[(at + 1)..<(at + 4)].elementsEqual([0x2A, 0x4D, 0x18]) {
                guard at + 8 <= b.count else { throw bad("truncated skippable frame") }
                at += 8 + little(at + 4, 4)
                continue
            }
            guard b[at..<(at + 4)].elementsEqual(magic) else { throw bad("not a frame at byte \(at)") }
            at += 4
            guard at < b.count else { throw bad("truncated frame header") }
            let descriptor = b[at]
            at += 1
            let fcsFlag = Int(descriptor >> 6)
            let singleSegment = descriptor & 0x20 != 0
            guard descriptor & 0x08 == 0 else { throw bad("reserved bit set") }
            let checksum = descriptor & 0x04 != 0
            let dictionaryBytes = [0, 1, 2, 4][Int(descriptor & 3)]
            var window = 0
            if !singleSegment {
                guard at < b.count else { throw bad("truncated window descriptor") }
                let exponent = Int(b[at] >> 3)
                let mantissa = Int(b[at] & 7)
                guard exponent <= 31 - 10 else { throw bad("window too large") }
                let base = 1 << (10 + exponent)
                window = base + base / 8 * mantissa
                at += 1
            }
            at += dictionaryBytes
            let fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]
            guard at + fcsBytes <= b.count else { throw bad("truncated frame header") }
            if singleSegment {
                var size = fcsBytes == 8 ? Int(truncatingIfNeeded: UInt64(little(at, 4)) | UInt64(little(at + 4, 4)) << 32) : little(at, fcsBytes)
                if fcsBytes == 2 { size += 256 }
                guard size >= 0 else { throw bad("content size out of range") }
                window = size
            }
            at += fcsBytes
            guard window <= maximumWindow else {
                throw bad("a frame asks for a \(window)-byte window, more than the \(maximumWindow) leafguard's packs use")
            }
            let blockMaximum = min(window == 0 ? 1 << 17 : window, 1 << 17)
            var last = false
            while !last {
                guard at + 3 <= b.count else { throw bad("truncated block header") }
                let header = little(at, 3)
                at += 3
                last = header & 1 != 0
                let size = header >> 3
                switch (header >> 1) & 3 {
                case 0:
                    at += size
                    bound += size
                case 1:
                    at += 1
                    bound += size
                case 2:
                    at += size
                    bound += blockMaximum
                default: throw bad("reserved block type")
                }
                guard at <= b.count else { throw bad("truncated block") }
            }
            if checksum { at += 4 }
            guard at <= b.count else { throw bad("truncated checksum") }
        }
        return bound
    }
}
