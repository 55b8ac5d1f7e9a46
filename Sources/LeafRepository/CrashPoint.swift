import Foundation

/// Deterministic crash points for kill tests, compiled into debug builds only: a test sets
/// `LEAFGUARD_CRASH_AFTER_SHARDS=k` and the process exits abruptly (no cleanup, as a
/// SIGKILL would) right after the k-th shard of its first pack is durable. Release builds
/// read no such variable.
public enum CrashPoint {
    #if DEBUG
    static let afterShards: Int? = ProcessInfo.processInfo.environment["LEAFGUARD_CRASH_AFTER_SHARDS"].flatMap(Int.init)
    #else
    static let afterShards: Int? = nil
    #endif

    /// Ends the process at once, as a kill would: exit status 137.
    static func die() -> Never { _exit(137) }
}
