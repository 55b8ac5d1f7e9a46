import Foundation

/// Deterministic crash points for kill tests, compiled into debug builds only: a test sets
/// `LEAFGUARD_CRASH_AFTER_SHARDS=k` and the process exits abruptly (no cleanup, as a
/// SIGKILL would) right after the k-th shard of its first pack is durable. Release builds
/// read no such variable.
public enum CrashPoint {
    #if DEBUG
        static let afterShards: Int? =
            (ProcessInfo.processInfo.environment["LEAFGUARD_CRASH_AFTER_SHARDS"]
            ?? ProcessInfo.processInfo.environment["LEAFGUARD_STALL_AFTER_SHARDS"]).flatMap(Int.init)
        static let stall = ProcessInfo.processInfo.environment["LEAFGUARD_STALL_AFTER_SHARDS"] != nil
        /// `LEAFGUARD_CRASH_AFTER_SNAPSHOT`: exit right after a snapshot object is stored in
        /// every location, before anything the run does after it (heads, checkpoint).
        static let afterSnapshot = ProcessInfo.processInfo.environment["LEAFGUARD_CRASH_AFTER_SNAPSHOT"] != nil
    #else
        static let afterShards: Int? = nil
        static let stall = false
        static let afterSnapshot = false
    #endif

    /// Ends the process at once, as a kill would: exit status 137. With
    /// `LEAFGUARD_STALL_AFTER_SHARDS` instead, the writing thread waits forever there, so a
    /// test can signal a run that is certainly in the middle of its work.
    static func die() {
        if stall { while true { sleep(60) } }
        _exit(137)
    }
}
