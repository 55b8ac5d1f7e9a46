import Foundation

/// Grandfather-father-son retention, as restic's `forget` reads it: `last` keeps the newest
/// n snapshots; each other rule keeps the newest snapshot of each of the n most recent
/// hours, days, ISO weeks, months or years (in `timeZone`) that have a snapshot.
/// Snapshots at the same instant are ordered by id, so the choice is deterministic.
public struct RetentionPolicy: Sendable, Equatable {
    public var last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0
    /// The zone hours, days, weeks, months and years are counted in.
    public var timeZone = (TimeZone(identifier: "UTC") ?? .gmt)

    /// A policy keeping what the counts say; all zero keeps nothing.
    public init(
        last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0,
        timeZone: TimeZone = (TimeZone(identifier: "UTC") ?? .gmt)
    ) {
        self.last = last; self.hourly = hourly; self.daily = daily; self.weekly = weekly
        self.monthly = monthly; self.yearly = yearly; self.timeZone = timeZone
    }

    /// Whether no rule keeps anything (prune refuses such a policy).
    public var keepsNothing: Bool { [last, hourly, daily, weekly, monthly, yearly].allSatisfy { $0 == 0 } }

    /// The snapshots to keep, each with the rules that keep it.
    public func select(_ snapshots: [(id: ObjectID, time: Date)]) -> [ObjectID: [String]] {
        var cal = Calendar(identifier: .iso8601)
        cal.timeZone = timeZone
        let newestFirst = snapshots.sorted { ($0.time, $0.id) > ($1.time, $1.id) }
        var keep: [ObjectID: [String]] = [:]
        for s in newestFirst.prefix(last) { keep[s.id, default: []].append("last") }
        let rules: [(String, Int, (Date) -> String)] = [
            (
                "hourly", hourly,
                {
                    let c = cal.dateComponents([.year, .month, .day, .hour], from: $0);
                    return "\((c.year ?? 0))-\((c.month ?? 0))-\((c.day ?? 0))-\((c.hour ?? 0))"
                }
            ),
            (
                "daily", daily,
                {
                    let c = cal.dateComponents([.year, .month, .day], from: $0); return "\((c.year ?? 0))-\((c.month ?? 0))-\((c.day ?? 0))"
                }
            ),
            (
                "weekly", weekly,
                {
                    let c = cal.dateComponents([.yearForWeekOfYear, .weekOfYear], from: $0); return "\((c.yearForWeekOfYear ?? 0))-W\((c.weekOfYear ?? 0))"
                }
            ),
            (
                "monthly", monthly,
                {
                    let c = cal.dateComponents([.year, .month], from: $0); return "\((c.year ?? 0))-\((c.month ?? 0))"
                }
            ),
            ("yearly", yearly, { "\(cal.component(.year, from: $0))" }),
        ]
        for (name, count, bucket) in rules where count > 0 {
            var seen = Set<String>()
            for s in newestFirst {
                let b = bucket(s.time)
                if seen.contains(b) { continue }
                seen.insert(b)
                keep[s.id, default: []].append(name)
                if seen.count == count { break }
            }
        }
        return keep
    }
}
