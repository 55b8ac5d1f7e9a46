import Foundation

/// Why a file could not be written where it was asked for, in words for a person.
public struct FileError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and with which path.
    public let description: String
    /// True when the request itself was refused (a link, a name climbing out): exit 2, not 1.
    public let refused: Bool

    /// An error saying `description`; `refused` for a request leafguard will not carry out.
    public init(_ description: String, refused: Bool = false) {
        self.description = description
        self.refused = refused
    }
}

/// A folder leafguard writes files into, by names it may not have chosen itself (a report's
/// file names come from a sealed object a compromised client could forge) and in places
/// other users may share (`scan --out /srv/reports`).
///
/// The folder is given by the operator; a symbolic link there is refused before anything
/// resolves it. It is opened once with `O_DIRECTORY|O_NOFOLLOW`, and every file is made
/// relative to that descriptor: a fresh temporary name created with `O_EXCL|O_NOFOLLOW`,
/// mode 0600, written, synced and renamed over its final name. So a name that climbs out
/// (`../x`, `a/b`) is refused, a planted link is never followed, and a file another user
/// planted under the final or a guessable temporary name never receives a byte: an existing
/// final name that is not this user's regular file is refused.
///
/// `@unchecked Sendable`: it owns a descriptor that never changes after `init`, and
/// `openat`/`renameat` on it are safe from any thread (`ScanOutputs` writes formats at once).
public final class OutputFolder: @unchecked Sendable {
    /// The folder's path as the operator gave it (made absolute, never link-resolved).
    public let path: String
    private let fd: Int32

    /// Opens `path`, creating it (0700, and missing parents) when absent. Refused: a
    /// symbolic link at `path` itself, or anything not a folder.
    public init(_ path: String) throws {
        let path = lexicallyAbsolute(path)
        self.path = path
        var st = stat()
        if lstat(path, &st) != 0 {
            guard errno == ENOENT else { throw FileError("cannot use \(path): \(OutputFolder.errorText())") }
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch { throw FileError("cannot create \(path): \(error.localizedDescription)") }
        } else if (st.st_mode & S_IFMT) == S_IFLNK {
            throw FileError("\(path) is a symbolic link; name the real folder", refused: true)
        } else if (st.st_mode & S_IFMT) != S_IFDIR {
            throw FileError("\(path) exists and is not a folder", refused: true)
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP || code == ENOTDIR { throw FileError("\(path) is a symbolic link; name the real folder", refused: true) }
            throw FileError("cannot open \(path): \(OutputFolder.errorText(code))")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The path of `name` in the folder, for messages.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Throws unless `name` is one plain file name (`isPlainFileName`).
    public static func checkName(_ name: String) throws {
        guard isPlainFileName(name) else {
            throw FileError("refusing the file name '\(name.prefix(80))': only a plain file name is written into a folder", refused: true)
        }
    }

    /// Writes `bytes` as `name`, replacing this user's earlier file of that name.
    public func write(_ name: String, _ bytes: [UInt8]) throws {
        let file = try create(name)
        try file.write(bytes)
        try file.commit()
    }

    /// Writes `text` (UTF-8) as `name`.
    public func write(_ name: String, text: String) throws { try write(name, Array(text.utf8)) }

    /// Starts `name`: a new temporary file in the folder that `OutputFile.commit` renames
    /// over `name` (and that is removed if it never is).
    public func create(_ name: String) throws -> OutputFile {
        try OutputFolder.checkName(name)
        try checkReplaceable(name)
        for _ in 0..<16 {
            let random = UInt64.random(in: 0...UInt64.max)
            let temporary = ".\(name.prefix(200)).tmp-\(String(random, radix: 36))"
            let file = openat(fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if file >= 0 {
                // The mode asked for, whatever the umask of a library caller.
                _ = fchmod(file, 0o600)
                return OutputFile(folder: self, fd: file, temporary: temporary, name: name)
            }
            guard errno == EEXIST else { throw FileError("cannot create a file in \(path): \(OutputFolder.errorText())") }
        }
        throw FileError("cannot create a file in \(path): every temporary name tried exists")
    }

    /// Refuses to replace anything but this user's own regular file (another user's planted
    /// file, a link, a folder).
    private func checkReplaceable(_ name: String) throws {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFLNK { throw FileError("\(file(name)) is a symbolic link; not replaced", refused: true) }
        if (st.st_mode & S_IFMT) != S_IFREG { throw FileError("\(file(name)) exists and is not a file; not replaced", refused: true) }
        if st.st_uid != geteuid() {
            throw FileError("\(file(name)) belongs to another user (uid \(st.st_uid)); not replaced", refused: true)
        }
    }

    fileprivate func rename(_ temporary: String, to name: String) throws {
        try checkReplaceable(name)
        guard renameat(fd, temporary, fd, name) == 0 else { throw FileError("cannot write \(file(name)): \(OutputFolder.errorText())") }
        _ = fsync(fd)
    }

    fileprivate func remove(_ temporary: String) { _ = unlinkat(fd, temporary, 0) }

    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}

/// A file being written into an `OutputFolder`; it appears under its name only at `commit`.
public final class OutputFile {
    private let folder: OutputFolder
    private var fd: Int32
    private let temporary: String
    /// The final name.
    public let name: String

    fileprivate init(folder: OutputFolder, fd: Int32, temporary: String, name: String) {
        self.folder = folder; self.fd = fd; self.temporary = temporary; self.name = name
    }

    deinit {
        if fd >= 0 {
            close(fd)
            folder.remove(temporary)
        }
    }

    /// The final path, for messages.
    public var path: String { folder.file(name) }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the bytes of `buffer`.
    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = Foundation.write(fd, buffer.baseAddress.map { $0 + done }, buffer.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FileError("cannot write \(path): \(OutputFolder.errorText())") }
            done += n
        }
    }

    /// Syncs the file and renames it over its name.
    public func commit() throws {
        guard fd >= 0 else { return }
        guard fsync(fd) == 0 else { throw FileError("cannot write \(path): \(OutputFolder.errorText())") }
        close(fd)
        fd = -1
        do { try folder.rename(temporary, to: name) } catch {
            folder.remove(temporary)
            throw error
        }
    }
}
