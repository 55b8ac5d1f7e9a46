import Foundation

/// A location that is a folder on a local or mounted file system.
///
/// Writes go to a temporary file in the same folder, are fsync'd, and are then linked to
/// their final name with link(2), which fails rather than replace an existing object;
/// the folder is fsync'd so the name itself is durable.
///
/// Whoever can write to the location (a NAS share, a mounted disk) may plant symbolic links
/// in it. Beneath the location's folder no link is ever followed: every name is resolved
/// one folder at a time with `O_NOFOLLOW` from a descriptor of the folder, and every
/// operation is made relative to its parent folder's descriptor (`openat`, `linkat`,
/// `renameat`, `unlinkat`), so nothing is read, written or removed outside the location.
/// The location's folder itself is the path the operator configured, links included.
public struct LocalStore: ObjectStore {
    /// The location's name in messages, e.g. `primary/loc2`.
    public let name: String
    /// The folder that holds the location's objects.
    public let root: String

    /// The location `name` in the folder `root` (created by `prepare()`).
    public init(name: String, root: String) {
        self.name = name
        self.root = root
    }

    private func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// A folder on this host: atomic replace by rename(2), listing by reading directories.
    public var capabilities: StoreCapabilities { .localFolder }

    /// Creates the root folder, as a repository's first write needs.
    public func prepare() throws { try create() }

    /// Creates the root folder if it is missing.
    public func create() throws {
        do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw StorageError.unavailable(location: name, reason: "cannot create \(root): \(error.localizedDescription)")
        }
    }

    /// A descriptor of the location's folder; `missingLocation` when it is not there.
    private func openRoot(for key: String) throws -> Int32 {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw StorageError.missingLocation(location: name, reason: "folder \(root) does not exist") }
            throw StorageError.io(location: name, key: key, reason: "open: \(errorText(code))")
        }
        return fd
    }

    /// Opens the folder `path` (slash-separated, relative to the location) one name at a
    /// time without following a link, creating missing folders (0700) when `creating`.
    /// Returns nil when a folder on the way does not exist; throws when one is a link or
    /// not a folder. The caller closes the descriptor.
    private func openFolder(_ path: Substring, for key: String, creating: Bool) throws -> Int32? {
        var fd = try openRoot(for: key)
        var walked = ""
        for part in path.split(separator: "/") {
            let component = String(part)
            walked += walked.isEmpty ? component : "/" + component
            var next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, creating {
                if mkdirat(fd, component, 0o700) != 0, errno != EEXIST {
                    let e = errorText(); close(fd)
                    throw StorageError.io(location: name, key: key, reason: "cannot create folder \(walked): \(e)")
                }
                fsync(fd)
                next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard next >= 0 else {
                let code = errno
                close(fd)
                if code == ENOENT { return nil }
                if code == ELOOP || code == ENOTDIR {
                    throw StorageError.io(
                        location: name, key: key,
                        reason: "\(walked) is not a folder (a link or a file planted in the location); leafguard follows no link there")
                }
                throw StorageError.io(location: name, key: key, reason: "open \(walked): \(errorText(code))")
            }
            close(fd)
            fd = next
        }
        return fd
    }

    /// Runs `body` with a descriptor of the folder that holds `key` and the key's last name;
    /// nil when that folder does not exist (and is not to be created).
    private func inParent<T>(of key: String, creating: Bool = false, _ body: (Int32, String) throws -> T) throws -> T? {
        try validate(key)
        let slash = key.lastIndex(of: "/")
        let folder = slash.map { key[..<$0] } ?? ""
        let leaf = slash.map { String(key[key.index(after: $0)...]) } ?? key
        guard let dfd = try openFolder(folder, for: key, creating: creating) else { return nil }
        defer { close(dfd) }
        return try body(dfd, leaf)
    }

    /// The file's status without following a link; nil when there is nothing at the name.
    private func status(_ dfd: Int32, _ leaf: String, key: String) throws -> stat? {
        var st = stat()
        guard fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw StorageError.io(location: name, key: key, reason: "stat: \(errorText())")
        }
        return st
    }

    /// Writes `bytes` to a new temporary file in the folder `dfd`, fsync'd when `durable`;
    /// returns its name.
    private func writeTemporary(_ dfd: Int32, _ bytes: [UInt8], key: String, durable: Bool) throws -> String {
        let tmp = ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.io(location: name, key: key, reason: "create: \(errorText())") }
        var offset = 0
        let writeFailed: String? = bytes.withUnsafeBytes { raw in
            while offset < raw.count, let base = raw.baseAddress {
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return errorText() }
                offset += n
            }
            return nil
        }
        var failure = writeFailed.map { "write: \($0)" }
        if failure == nil, durable, fsync(fd) != 0 { failure = "fsync: \(errorText())" }
        close(fd)
        if let failure {
            unlinkat(dfd, tmp, 0)
            throw StorageError.io(location: name, key: key, reason: failure)
        }
        return tmp
    }

    /// Writes a new object durably (temporary file, fsync, link(2), folder fsync); `alreadyExists` if the name is taken.
    public func put(_ key: String, _ bytes: [UInt8]) throws {
        _ = try inParent(of: key, creating: true) { dfd, leaf in
            if try status(dfd, leaf, key: key) != nil { throw StorageError.alreadyExists(location: name, key: key) }
            let tmp = try writeTemporary(dfd, bytes, key: key, durable: true)
            defer { unlinkat(dfd, tmp, 0) }
            if linkat(dfd, tmp, dfd, leaf, 0) != 0 {
                if errno == EEXIST { throw StorageError.alreadyExists(location: name, key: key) }
                throw StorageError.io(location: name, key: key, reason: "link: \(errorText())")
            }
            fsync(dfd)
        }
    }

    /// Swaps an object's bytes by rename(2); durable at the next `sync()`.
    public func replace(_ key: String, _ bytes: [UInt8]) throws {
        _ = try inParent(of: key, creating: true) { dfd, leaf in
            let tmp = try writeTemporary(dfd, bytes, key: key, durable: false)
            // rename(2) replaces the target atomically (a link at the name is replaced, not followed).
            guard renameat(dfd, tmp, dfd, leaf) == 0 else {
                let e = errorText(); unlinkat(dfd, tmp, 0)
                throw StorageError.io(location: name, key: key, reason: "rename: \(e)")
            }
        }
    }

    /// Opens the regular file at `key` for reading: never a link, never a blocking open (a
    /// FIFO planted at an object's name would hang), nothing but a regular file. Nil when
    /// nothing is there.
    private func openObject(_ key: String) throws -> (fd: Int32, size: off_t)? {
        let opened: (Int32, off_t)?? = try inParent(of: key) { dfd, leaf in
            let fd = openat(dfd, leaf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            guard fd >= 0 else {
                if errno == ENOENT { return nil }
                if errno == ELOOP { throw StorageError.io(location: name, key: key, reason: "is a symbolic link, not an object") }
                throw StorageError.io(location: name, key: key, reason: "open: \(errorText())")
            }
            var st = stat()
            guard fstat(fd, &st) == 0 else { let e = errorText(); close(fd); throw StorageError.io(location: name, key: key, reason: "stat: \(e)") }
            guard (st.st_mode & S_IFMT) == S_IFREG else { close(fd); throw StorageError.io(location: name, key: key, reason: "is not a regular file") }
            return (fd, st.st_size)
        }
        return opened ?? nil
    }

    /// Whether the stored object is exactly `bytes`, compared 1 MiB at a time.
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool {
        guard let (fd, size) = try openObject(key) else { return false }
        defer { close(fd) }
        guard Int(size) == bytes.count else { return false }
        // Compared a megabyte at a time through one buffer.
        var buffer = [UInt8](repeating: 0, count: min(bytes.count, 1 << 20))
        var offset = 0
        while offset < bytes.count {
            let want = min(buffer.count, bytes.count - offset)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
            guard n > 0 else { if n < 0 && errno == EINTR { continue }; return false }
            let same = buffer.withUnsafeBytes { b in
                bytes.withUnsafeBytes { (stored: UnsafeRawBufferPointer) -> Bool in
                    guard let read = b.baseAddress, let expected = stored.baseAddress else { return false }
                    return memcmp(read, expected + offset, n) == 0
                }
            }
            if !same { return false }
            offset += n
        }
        return true
    }

    /// Makes every replacement and batch removal durable (syncfs(2) on the location's file system).
    public func sync() throws {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.unavailable(location: name, reason: "cannot open \(root): \(errorText())") }
        defer { close(fd) }
        guard glibcSyncfs(fd) == 0 else { throw StorageError.io(location: name, key: "", reason: "syncfs: \(errorText())") }
    }

    /// The object's bytes; only a regular file is read (O_NOFOLLOW, no blocking open), and
    /// a file over `maximumSize` (a huge or sparse file planted at an object's name) is
    /// refused by its size before any allocation.
    public func get(_ key: String, maximumSize: Int) throws -> [UInt8] {
        guard let (fd, stSize) = try openObject(key) else { throw StorageError.notFound(location: name, key: key) }
        defer { close(fd) }
        let maximum = min(maximumSize, largestObject)
        guard stSize >= 0, stSize <= off_t(maximum) else { throw objectTooLarge(location: name, key: key, size: Int(stSize), maximum: maximum) }
        let size = Int(stSize)
        var out = [UInt8](repeating: 0, count: size)
        var got = 0
        let failed: String? = out.withUnsafeMutableBytes { raw in
            while got < size, let base = raw.baseAddress {
                let n = read(fd, base + got, size - got)
                if n < 0 { if errno == EINTR { continue }; return errorText() }
                if n == 0 { break }
                got += n
            }
            return nil
        }
        if let failed { throw StorageError.io(location: name, key: key, reason: "read: \(failed)") }
        if got < size { out.removeLast(size - got) }
        return out
    }

    /// The object's size, nil when it does not exist (a link at its name is not an object).
    public func size(of key: String) throws -> Int? {
        let found: Int?? = try inParent(of: key) { dfd, leaf in
            guard let st = try status(dfd, leaf, key: key) else { return nil }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw StorageError.io(location: name, key: key, reason: "is not a regular file") }
            return Int(st.st_size)
        }
        return found ?? nil
    }

    /// Every name starting with `prefix`, sorted; temporaries left out, links never followed.
    public func list(prefix: String) throws -> [String] {
        // Walk only the folder that can hold the prefix.
        let dirPart = prefix.lastIndex(of: "/").map { prefix[..<$0] } ?? ""
        guard let startFD = try openFolder(dirPart, for: prefix, creating: false) else { return [] }
        // readdir(3) with d_type: FileManager's enumerator stats every entry, which
        // dominates listing a folder of a hundred thousand wrapped keys.
        var out: [String] = []
        var pending = [(startFD, String(dirPart))]
        while let (fd, rel) = pending.popLast() {
            guard let d = fdopendir(fd) else {
                let e = errorText(); close(fd)
                if rel == String(dirPart) { throw StorageError.unavailable(location: name, reason: "cannot list \(root)/\(rel): \(e)") }
                continue
            }
            defer { closedir(d) }  // closes fd too
            while let entry = readdir(d) {
                let fileName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if fileName == "." || fileName == ".." || fileName.hasPrefix(".tmp-") { continue }
                let key = rel.isEmpty ? fileName : rel + "/" + fileName
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) {
                    var st = stat()
                    let mode = fstatat(fd, fileName, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_mode & S_IFMT : 0
                    type = mode == S_IFDIR ? UInt8(DT_DIR) : mode == S_IFREG ? UInt8(DT_REG) : UInt8(DT_LNK)
                }
                if type == UInt8(DT_DIR) {
                    // Descend only where names can still match the prefix, and never through a link.
                    if key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") {
                        let sub = openat(fd, fileName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        if sub >= 0 { pending.append((sub, key)) }
                    }
                } else if type == UInt8(DT_REG), key.hasPrefix(prefix) {
                    out.append(key)
                }
            }
        }
        return out.sorted()
    }

    /// Removes one object durably; `notFound` if it is missing.
    public func delete(_ key: String) throws {
        let removed: Bool? = try inParent(of: key) { dfd, leaf in
            if unlinkat(dfd, leaf, 0) != 0 {
                if errno == ENOENT { return false }
                throw StorageError.io(location: name, key: key, reason: "unlink: \(errorText())")
            }
            fsync(dfd)
            return true
        }
        guard removed == true else { throw StorageError.notFound(location: name, key: key) }
    }

    /// Removes each of `keys` that exists; durable at the next `sync()`.
    public func delete(many keys: [String]) throws {
        for key in keys { try validate(key) }
        // Keys are mostly grouped by folder: each folder is opened once per run of its keys.
        var open: (folder: Substring, fd: Int32?)?
        defer { if let fd = open?.fd { close(fd) } }
        for key in keys {
            let slash = key.lastIndex(of: "/")
            let folder = slash.map { key[..<$0] } ?? ""
            let leaf = slash.map { String(key[key.index(after: $0)...]) } ?? key
            if open?.folder != folder {
                if let fd = open?.fd { close(fd) }
                open = nil
                open = (folder, try openFolder(folder, for: key, creating: false))
            }
            guard let dfd = open?.fd else { continue }
            if unlinkat(dfd, leaf, 0) != 0 && errno != ENOENT {
                throw StorageError.io(location: name, key: key, reason: "unlink: \(errorText())")
            }
        }
    }
}

/// syncfs(2): flushes the file system holding `fd` (a GNU extension Swift's Glibc omits).
@_silgen_name("syncfs")
private func glibcSyncfs(_ fd: Int32) -> Int32
