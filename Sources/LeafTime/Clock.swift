import Foundation

/// The time leafguard acts at: the real clock, or one shifted to an injected instant
/// (`--now`), so that ticks can be tested and replayed at any date.
public struct Clock: Sendable {
    /// How far this clock runs ahead of the real one (0 for the real clock).
    public let offset: TimeInterval
    /// The real clock, or one that reads `injected` now and runs on from there.
    public init(now injected: Date? = nil) { offset = injected.map { $0.timeIntervalSinceNow } ?? 0 }
    /// The current instant by this clock.
    public var now: Date { Date().addingTimeInterval(offset) }
}
