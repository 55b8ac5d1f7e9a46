import Foundation

extension CronExpression {
    /// The next `count` instants after `after` at which the schedule fires in `timeZone`,
    /// with Debian cron's daylight-saving rules: for a job at a particular time, a time
    /// skipped by a spring-forward fires once right after the change, and a time repeated
    /// by a fall-back fires once (at its first occurrence); wildcard jobs follow the wall
    /// clock (a skipped time does not occur; a repeated one occurs twice).
    ///
    /// With `notAfter`, the search stops there (a tick asking what is due looks no further).
    public func nextFireTimes(after: Date, count: Int, timeZone: TimeZone, notAfter: Date? = nil) -> [Date] {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        var out: [Date] = []
        var day = cal.startOfDay(for: after)
        // 28 years hold every combination of weekday and leap day.
        for _ in 0..<(366 * 28) where out.count < count {
            if let notAfter, day > notAfter { break }
            let c = cal.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let year = c.year, let month = c.month, let dayOfMonth = c.day, let weekday = c.weekday else { break }
            if matchesDay(dayOfMonth: dayOfMonth, month: month, weekday: weekday - 1) {
                var fires = Set<Date>()
                for h in hours.sorted() {
                    for m in minutes.sorted() {
                        fires.formUnion(instants(year: year, month: month, day: dayOfMonth, hour: h, minute: m, timeZone: timeZone))
                    }
                }
                for f in fires.sorted() where f > after && out.count < count && (notAfter.map { f <= $0 } ?? true) { out.append(f) }
            }
            guard let next = cal.date(byAdding: .day, value: 1, to: day) else { break }
            day = cal.startOfDay(for: next)
        }
        return out
    }

    /// The instants a local wall-clock time denotes under the rules above.
    func instants(year: Int, month: Int, day: Int, hour: Int, minute: Int, timeZone: TimeZone) -> [Date] {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = (TimeZone(identifier: "UTC") ?? .gmt)
        guard let wall = utc.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute)) else { return [] }
        // The offsets in force a day either side: a wall time maps to 0, 1 or 2 instants.
        let offsets = Set([-86400.0, 0, 86400].map { timeZone.secondsFromGMT(for: wall.addingTimeInterval($0)) })
        let found = offsets.map { wall.addingTimeInterval(-Double($0)) }.filter { timeZone.secondsFromGMT(for: $0) == Int(wall.timeIntervalSince($0)) }.sorted()
        if found.count == 2 { return isFixedTime ? [found[0]] : found }
        if found.count == 1 { return found }
        // Skipped by a spring-forward: a fixed-time job fires once, right after the change.
        guard isFixedTime, let transition = timeZone.nextDaylightSavingTimeTransition(after: wall.addingTimeInterval(-Double(offsets.max() ?? 0) - 1)) else {
            return []
        }
        return [transition]
    }
}
