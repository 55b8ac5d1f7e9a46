import Foundation

/// Why a repository operation failed, in words that say what to do next.
public enum RepositoryError: Error, CustomStringConvertible, Sendable {
    case malformed(String)
    case wrongMasterKey(version: UInt32, dataKey: String)
    case notInitialized(region: String)
    case snapshotNotFound(String)
    case ambiguousSnapshot(String, matches: Int)
    case unreadable(object: String, problems: [String])
    /// No location holds the object at all.
    case notFoundAnywhere(object: String)
    case insufficientLocations(region: String, written: Int, needed: Int, problems: [String])
    case locked(region: String, by: String)
    /// Two regions (or a region and the state folder) hold different repositories.
    case foreignRepository(region: String, holds: String, expected: String, expectedFrom: String)
    /// A region without a repository while the deployment has one elsewhere: lost, or a wrong path.
    case regionLost(region: String, repository: String, knownFrom: String, rebuildFrom: String?)

    /// The error in words that say what to do next.
    public var description: String {
        switch self {
        case .malformed(let s): return "malformed repository object: \(s)"
        case .wrongMasterKey(let v, let dk):
            return "the master key given does not open data key \(dk), which is wrapped by master key version \(v); check keys.master"
        case .notInitialized(let r):
            return "region '\(r)' holds no repository; check the region's path in leafguard.yml, or create the repository with 'leafguard init'"
        case .foreignRepository(let r, let holds, let expected, let from):
            return
                "region '\(r)' holds repository \(holds), but \(from) holds repository \(expected); they are different repositories and are never mixed (check the regions' paths in leafguard.yml)"
        case .regionLost(let r, let id, let from, let rebuild):
            return
                "region '\(r)' holds no repository, but \(from) knows repository \(id): the region was lost or its path in leafguard.yml is wrong. Nothing was written. "
                + (rebuild.map { "If it was lost, rebuild it with 'leafguard replicate --from \($0) --to \(r)'." }
                    ?? "If every region was lost, restore the regions' storage; 'leafguard init --force' starts a new, empty repository.")
        case .snapshotNotFound(let s): return "no snapshot '\(s)'; 'leafguard snapshots list' shows the ids"
        case .ambiguousSnapshot(let s, let n): return "'\(s)' matches \(n) snapshots; give more of the id"
        case .unreadable(let o, let p): return "\(o) cannot be read from any location: " + p.joined(separator: "; ")
        case .notFoundAnywhere(let o): return "\(o) cannot be read from any location: not found in any location"
        case .locked(let r, let by): return "region '\(r)' is busy (\(by)); try again when it finishes"
        case .insufficientLocations(let r, let w, let n, let p):
            return "region '\(r)': wrote \(w) of \(n) needed copies: " + p.joined(separator: "; ")
        }
    }
}
