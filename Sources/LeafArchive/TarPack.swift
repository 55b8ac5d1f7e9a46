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

/// Reads the entries of a tar archive in memory, with any filter libarchive knows (zstd included).
public enum TarReader {
    /// Calls `body` with each regular entry's name and contents, in archive order.
    public static func forEachEntry(in archiveBytes: [UInt8], _ body: (String, [UInt8]) throws -> Void) throws {
        guard let a = archive_read_new() else { throw ArchiveError(message: "out of memory") }
        defer { archive_read_free(a) }
        archive_read_support_format_tar(a)
        archive_read_support_filter_all(a)
        func fail() -> ArchiveError { ArchiveError(message: archive_error_string(a).map { String(cString: $0) } ?? "unknown") }
        try archiveBytes.withUnsafeBytes { raw in
            guard archive_read_open_memory(a, raw.baseAddress, raw.count) == ARCHIVE_OK else { throw fail() }
            var entry: OpaquePointer?
            while true {
                let rc = archive_read_next_header(a, &entry)
                if rc == ARCHIVE_EOF { break }
                guard rc >= ARCHIVE_WARN, let entry else { throw fail() }
                let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
                let size = Int(archive_entry_size(entry))
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
