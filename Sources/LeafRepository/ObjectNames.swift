/// Every name a region holds, and the largest object each kind can be (docs/format.md,
/// "Object names and sizes"). A name outside this grammar is not the repository's: it is
/// reported where it is listed and never read. The bounds are far above what leafguard
/// writes and far below what would hurt a host: a planted file at a valid name larger than
/// its kind's bound is refused by its size, before anything is allocated.
public enum ObjectNames {
    /// The largest object `name` can be, in bytes; nil when `name` is not one leafguard writes.
    public static func maximumSize(of name: String) -> Int? {
        let b = Array(name.utf8)
        func hex(_ s: ArraySlice<UInt8>, count: Int) -> Bool {
            s.count == count && s.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        }
        // Zero-padded sequences: at least `count` digits (a sequence past the padding is longer).
        func digits(_ s: ArraySlice<UInt8>, count: Int) -> Bool { (count...20).contains(s.count) && s.allSatisfy { (48...57).contains($0) } }
        func after(_ prefix: String) -> ArraySlice<UInt8>? {
            let p = Array(prefix.utf8)
            return b.count >= p.count && b[..<p.count].elementsEqual(p) ? b[p.count...] : nil
        }
        switch name {
        case "config": return 64 << 10
        case "keyring": return 1 << 20
        case "audit/audit-signing.pub": return 4 << 10
        default: break
        }
        // data/XX/<pack id>.<shard>[.repair]: a pack is at most a few times the 8 MiB target.
        if let rest = after("data/") {
            let parts = rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            guard parts.count == 2, hex(parts[0], count: 2) else { return nil }
            var file = parts[1].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            if file.count == 3, file[2].elementsEqual("repair".utf8) { file.removeLast() }
            guard file.count == 2, hex(file[0], count: 32), file[0].prefix(2).elementsEqual(parts[0]), (1...3).contains(file[1].count),
                file[1].allSatisfy({ (48...57).contains($0) })
            else { return nil }
            return 256 << 20
        }
        if let id = after("keys/set-") { return hex(id, count: 32) ? 256 << 20 : nil }
        if let id = after("keys/") { return hex(id, count: 32) ? 64 << 10 : nil }
        if let id = after("index/") { return hex(id, count: 32) ? 512 << 20 : nil }
        if let id = after("snapshots/") { return hex(id, count: 32) ? 512 << 20 : nil }
        if let id = after("reports/") { return hex(id, count: 32) ? 1 << 30 : nil }
        if let id = after("locks/") { return hex(id, count: 32) ? 64 << 10 : nil }
        if let id = after("tombstones/") { return hex(id, count: 32) ? 64 << 10 : nil }
        // heads/<region>-<16 digits>: a signed list of what the region holds.
        if let rest = after("heads/") {
            guard let dash = rest.lastIndex(of: UInt8(ascii: "-")), dash > rest.startIndex, digits(rest[(dash + 1)...], count: 16),
                rest[..<dash].allSatisfy({ (97...122).contains($0) || (65...90).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 })
            else { return nil }
            return 64 << 20
        }
        // audit/log-<12 digits>-<12 digits>, audit/checkpoint-<12 digits>, audit/activity/seal-<8 digits>.
        if let rest = after("audit/log-") {
            let parts = rest.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
            return parts.count == 2 && digits(parts[0], count: 12) && digits(parts[1], count: 12) ? 256 << 20 : nil
        }
        if let seq = after("audit/checkpoint-") { return digits(seq, count: 12) ? 1 << 20 : nil }
        if let seq = after("audit/activity/seal-") { return digits(seq, count: 8) ? 64 << 20 : nil }
        return nil
    }
}
