import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An advisory lock on a file (flock(2)). The kernel releases it when the holding process
/// dies, however it dies, so a lock that can be taken has no live holder: that is how a
/// dead holder is detected. On NFS, Linux turns flock into a lock the server keeps, so
/// hosts sharing a state folder exclude each other too.
public final class FileLock {
    /// The lock file.
    public let path: String
    private var fd: Int32 = -1

    /// A lock on `path`, not yet taken.
    public init(path: String) { self.path = path }
    deinit { release() }

    /// Takes the lock without waiting; false when another process holds it.
    public func tryLock(exclusive: Bool = true) throws -> Bool {
        if fd < 0 {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SchedulerError("cannot open lock file \(path): \(String(cString: strerror(errno)))") }
        }
        if flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 { return true }
        let e = errno
        if e == EWOULDBLOCK { return false }
        throw SchedulerError("cannot lock \(path): \(String(cString: strerror(e)))")
    }

    /// Writes who holds the lock into the lock file, for messages and `replace`.
    public func writeHolder(_ holder: LockHolder) {
        guard fd >= 0, let data = try? LockHolder.encoder.encode(holder) else { return }
        _ = ftruncate(fd, 0)
        _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Releases the lock and, when `remove` is set, deletes the file first (so nobody
    /// can lock a file that is about to vanish).
    public func release(remove: Bool = false) {
        guard fd >= 0 else { return }
        if remove { unlink(path) }
        close(fd)
        fd = -1
    }

    /// The holder recorded in a lock file, if any.
    public static func holder(at path: String) -> LockHolder? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        return try? LockHolder.decoder.decode(LockHolder.self, from: data)
    }
}

/// What a lock file says about the process holding it.
public struct LockHolder: Codable, Sendable, Equatable {
    /// The holder's host name.
    public let host: String
    /// The holder's process id on that host.
    public let pid: Int32
    /// The catalog id of the run holding the lock.
    public let runID: Int64
    /// When that run started.
    public let started: Date

    /// The lock file's form: JSON, times in Unix seconds, as every file leafguard writes.
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .secondsSince1970
        return e
    }

    /// Reads the lock file's form (and a holder an older version wrote, in seconds since 2001).
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let seconds = try decoder.singleValueContainer().decode(Double.self)
            // Unix seconds are past 1.5e9 for any lock written since 2017; seconds since 2001 are not.
            return seconds > 1.5e9 ? Date(timeIntervalSince1970: seconds) : Date(timeIntervalSinceReferenceDate: seconds)
        }
        return d
    }

    /// `run ID, pid PID on HOST, started TIME`, for messages.
    public var description: String {
        "run \(runID), pid \(pid) on \(host), started \(ISO8601DateFormatter().string(from: started))"
    }
}

/// A scheduler failure that says what to do.
public struct SchedulerError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and what to do.
    public let message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message itself.
    public var description: String { message }
}
