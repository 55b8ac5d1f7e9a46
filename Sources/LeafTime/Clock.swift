import Foundation

/// The time leafguard acts at: the real clock, or one shifted to an injected instant
/// (`--now`), so that ticks can be tested and replayed at any date.
public struct Clock: Sendable {
    public let offset: TimeInterval
    public init(now injected: Date? = nil) { offset = injected.map { $0.timeIntervalSinceNow } ?? 0 }
    public var now: Date { Date().addingTimeInterval(offset) }
}
