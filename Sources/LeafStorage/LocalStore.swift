import Foundation

/// A location that is a folder on a local or mounted file system.
///
/// Writes go to a temporary file in the same folder, are fsync'd, and are then linked to
/// their final name with link(2), which fails rather than replace an existing object;
/// the folder is fsync'd so the name itself is durable.
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

    func path(_ key: String) -> String { root + "/" + key }

    private func errorText() -> String { String(cString: strerror(errno)) }

    private func checkRoot() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw StorageError.missingLocation(location: name, reason: "folder \(root) does not exist")
        }
    }

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

    /// The object's path and its folder, created if missing.
    private func placeFor(_ key: String) throws -> (path: String, folder: String) {
        let final = path(key)
        let dir = (final as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: dir) {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw StorageError.io(location: name, key: key, reason: "cannot create folder: \(error.localizedDescription)")
            }
        }
        return (final, dir)
    }

    /// Writes a new object durably (temporary file, fsync, link(2), folder fsync); `alreadyExists` if the name is taken.
    public func put(_ key: String, _ bytes: [UInt8]) throws {
        try validate(key)
        try checkRoot()
        let (final, dir) = try placeFor(key)
        if access(final, F_OK) == 0 { throw StorageError.alreadyExists(location: name, key: key) }
        let tmp = dir + "/.tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.io(location: name, key: key, reason: "create: \(errorText())") }
        var ok = false
        defer { if !ok { unlink(tmp) } }
        var offset = 0
        let writeFailed: String? = bytes.withUnsafeBytes { raw in
            while offset < raw.count, let base = raw.baseAddress {
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return errorText() }
                offset += n
            }
            return nil
        }
        if let writeFailed { close(fd); throw StorageError.io(location: name, key: key, reason: "write: \(writeFailed)") }
        if fsync(fd) != 0 { let e = errorText(); close(fd); throw StorageError.io(location: name, key: key, reason: "fsync: \(e)") }
        close(fd)
        if link(tmp, final) != 0 {
            if errno == EEXIST { throw StorageError.alreadyExists(location: name, key: key) }
            throw StorageError.io(location: name, key: key, reason: "link: \(errorText())")
        }
        ok = true
        unlink(tmp)
        syncDirectory(dir)
    }

    /// Swaps an object's bytes by rename(2); durable at the next `sync()`.
    public func replace(_ key: String, _ bytes: [UInt8]) throws {
        try validate(key)
        try checkRoot()
        let (final, dir) = try placeFor(key)
        let tmp = dir + "/.tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.io(location: name, key: key, reason: "create: \(errorText())") }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard n == bytes.count else { unlink(tmp); throw StorageError.io(location: name, key: key, reason: "write: \(errorText())") }
        // rename(2) replaces the target atomically.
        guard rename(tmp, final) == 0 else { let e = errorText(); unlink(tmp); throw StorageError.io(location: name, key: key, reason: "rename: \(e)") }
    }

    /// Whether the stored object is exactly `bytes`, compared 1 MiB at a time.
    public func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool {
        try validate(key)
        let fd = open(path(key), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return false }
            throw StorageError.io(location: name, key: key, reason: "open: \(errorText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.io(location: name, key: key, reason: "stat: \(errorText())") }
        guard Int(st.st_size) == bytes.count else { return false }
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

    private func syncDirectory(_ dir: String) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// The largest object `get` reads (2 GiB): packs, sets and reports are far smaller, and a
    /// huge or sparse file planted at an object's name is refused before any allocation.
    public static let maximumObjectSize: off_t = 2 << 30

    /// The object's bytes; only a regular file is read (O_NOFOLLOW, no blocking open).
    public func get(_ key: String) throws -> [UInt8] {
        try validate(key)
        let p = path(key)
        // Never a blocking open (a FIFO planted at an object's name would hang here), never
        // through a symbolic link, and only a regular file is read.
        let fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ELOOP { throw StorageError.io(location: name, key: key, reason: "is a symbolic link, not an object") }
            if errno == ENOENT {
                try checkRoot()
                throw StorageError.notFound(location: name, key: key)
            }
            throw StorageError.io(location: name, key: key, reason: "open: \(errorText())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.io(location: name, key: key, reason: "stat: \(errorText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw StorageError.io(location: name, key: key, reason: "is not a regular file") }
        guard st.st_size >= 0, st.st_size <= Self.maximumObjectSize else {
            throw StorageError.io(
                location: name, key: key, reason: "holds \(st.st_size) bytes, more than any object leafguard writes (\(Self.maximumObjectSize))")
        }
        let size = Int(st.st_size)
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

    /// The object's size, nil when it does not exist.
    public func size(of key: String) throws -> Int? {
        try validate(key)
        var st = stat()
        if stat(path(key), &st) != 0 {
            if errno == ENOENT { try checkRoot(); return nil }
            throw StorageError.io(location: name, key: key, reason: "stat: \(errorText())")
        }
        return Int(st.st_size)
    }

    /// Every name starting with `prefix`, sorted; temporaries left out.
    public func list(prefix: String) throws -> [String] {
        try checkRoot()
        // Walk only the folder that can hold the prefix.
        let dirPart = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        let start = dirPart.isEmpty ? root : root + "/" + dirPart
        guard FileManager.default.fileExists(atPath: start) else { return [] }
        // readdir(3) with d_type: FileManager's enumerator stats every entry, which
        // dominates listing a folder of a hundred thousand wrapped keys.
        var out: [String] = []
        var pending = [(start, dirPart)]
        while let (dir, rel) = pending.popLast() {
            guard let d = opendir(dir) else {
                if dir == start { throw StorageError.unavailable(location: name, reason: "cannot list \(start): \(errorText())") }
                continue
            }
            defer { closedir(d) }
            while let entry = readdir(d) {
                let fileName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if fileName == "." || fileName == ".." || fileName.hasPrefix(".tmp-") { continue }
                let key = rel.isEmpty ? fileName : rel + "/" + fileName
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) {
                    var st = stat()
                    type = stat(dir + "/" + fileName, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR) : UInt8(DT_REG)
                }
                if type == UInt8(DT_DIR) {
                    // Descend only where names can still match the prefix.
                    if key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") { pending.append((dir + "/" + fileName, key)) }
                } else if type == UInt8(DT_REG), key.hasPrefix(prefix) {
                    out.append(key)
                }
            }
        }
        return out.sorted()
    }

    /// Removes one object durably; `notFound` if it is missing.
    public func delete(_ key: String) throws {
        try validate(key)
        if unlink(path(key)) != 0 {
            if errno == ENOENT { throw StorageError.notFound(location: name, key: key) }
            throw StorageError.io(location: name, key: key, reason: "unlink: \(errorText())")
        }
        syncDirectory((path(key) as NSString).deletingLastPathComponent)
    }

    /// Removes each of `keys` that exists; durable at the next `sync()`.
    public func delete(many keys: [String]) throws {
        for key in keys {
            try validate(key)
            if unlink(path(key)) != 0 && errno != ENOENT {
                throw StorageError.io(location: name, key: key, reason: "unlink: \(errorText())")
            }
        }
    }
}

/// syncfs(2): flushes the file system holding `fd` (a GNU extension Swift's Glibc omits).
@_silgen_name("syncfs")
private func glibcSyncfs(_ fd: Int32) -> Int32
