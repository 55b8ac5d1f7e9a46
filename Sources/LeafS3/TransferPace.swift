import Foundation

/// How slowly a request may go before it is given up: a server (broken, or hostile and in
/// control of its replies) that sends one byte every 20 s never trips an idle timeout, and
/// one that announces a gigabyte and sends ten bytes would hold a command for the whole
/// deadline. So a request also has an overall deadline, and once `grace` has passed it must
/// have moved at least `minimumRate` bytes a second on average, counting what it sent and
/// what it received.
public struct TransferPace: Sendable, Equatable {
    /// Seconds without a byte before the request fails.
    public var idleTimeout: TimeInterval
    /// Seconds the whole request may take.
    public var deadline: TimeInterval
    /// Bytes a second the request must average once `grace` has passed.
    public var minimumRate: Double
    /// Seconds before the rate is judged (connection set-up, a server that thinks first).
    public var grace: TimeInterval

    /// A pace from its parts.
    public init(idleTimeout: TimeInterval, deadline: TimeInterval, minimumRate: Double, grace: TimeInterval) {
        self.idleTimeout = idleTimeout; self.deadline = deadline; self.minimumRate = minimumRate; self.grace = grace
    }

    /// 60 s idle, 15 minutes in all, and 16 KiB/s after 20 s: a pack of 64 MiB needs 4 KiB/s
    /// short of the deadline, and the slowest link that ever served a region moved megabytes.
    public static let standard = TransferPace(idleTimeout: 60, deadline: 900, minimumRate: 16_384, grace: 20)

    /// Why a request that started at `start` and has moved `bytes` must stop at `now`, or nil.
    public func failure(bytes: Int, start: Date, now: Date) -> String? {
        let elapsed = now.timeIntervalSince(start)
        if elapsed >= deadline { return "no whole response by the request's deadline (\(Int(deadline)) s)" }
        if elapsed >= grace && Double(bytes) < minimumRate * (elapsed - grace) {
            return "the transfer moved \(bytes) bytes in \(Int(elapsed)) s, slower than the minimum \(Int(minimumRate)) bytes/s"
        }
        return nil
    }

    /// The longest wait for more bytes at `now` before `failure` would have something to say
    /// (never longer than the idle timeout); at most zero when it already has.
    public func wait(bytes: Int, start: Date, now: Date) -> TimeInterval {
        let elapsed = now.timeIntervalSince(start)
        return min(idleTimeout, deadline - elapsed, grace + Double(bytes) / minimumRate - elapsed)
    }
}
