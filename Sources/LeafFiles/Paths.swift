import Foundation

/// `path` made absolute against `base` (itself made absolute against the working folder
/// when relative), a leading `~` expanded, and `.`, `..` and repeated slashes folded by
/// their text alone: no link on the way is resolved (Foundation's `standardizingPath`
/// resolves them), so a link given as a target is still a link when it is checked.
public func lexicallyAbsolute(_ path: String, relativeTo base: String = FileManager.default.currentDirectoryPath) -> String {
    let expanded = (path as NSString).expandingTildeInPath
    let root = base.hasPrefix("/") ? base : FileManager.default.currentDirectoryPath + "/" + base
    var parts: [Substring] = []
    for part in (expanded.hasPrefix("/") ? expanded : root + "/" + expanded).split(separator: "/") {
        if part == "." { continue }
        if part == ".." { _ = parts.popLast(); continue }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

/// Whether `name` is one plain file name: not empty, not `.` or `..`, no `/`, no NUL, at
/// most 255 bytes. The only names leafguard writes into a folder by a name from outside.
public func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.utf8.contains(0) && name.utf8.count <= 255
}
