import Foundation

/// Why a repository operation failed, in words that say what to do next.
public enum RepositoryError: Error, CustomStringConvertible, Sendable {
    case malformed(String)
    case wrongMasterKey(version: UInt32, dataKey: String)
    case notInitialized(region: String)
    case snapshotNotFound(String)
    case ambiguousSnapshot(String, matches: Int)
    case unreadable(object: String, problems: [String])
    case insufficientLocations(region: String, written: Int, needed: Int, problems: [String])
    case locked(region: String, by: String)

    public var description: String {
        switch self {
        case .malformed(let s): return "malformed repository object: \(s)"
        case let .wrongMasterKey(v, dk):
            return "the master key given does not open data key \(dk), which is wrapped by master key version \(v); check keys.master"
        case .notInitialized(let r): return "region '\(r)' holds no repository yet; run a backup first, or check the region's path in leafguard.yml"
        case .snapshotNotFound(let s): return "no snapshot '\(s)'; 'leafguard snapshots list' shows the ids"
        case let .ambiguousSnapshot(s, n): return "'\(s)' matches \(n) snapshots; give more of the id"
        case let .unreadable(o, p): return "\(o) cannot be read from any location: " + p.joined(separator: "; ")
        case let .locked(r, by): return "region '\(r)' is busy (\(by)); try again when it finishes"
        case let .insufficientLocations(r, w, n, p):
            return "region '\(r)': wrote \(w) of \(n) needed copies: " + p.joined(separator: "; ")
        }
    }
}
