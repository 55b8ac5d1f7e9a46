import Foundation

/// Why a cron expression was rejected, in words a person can act on.
public struct CronError: Error, Equatable, CustomStringConvertible {
    /// Which field is wrong and why.
    public let message: String
    /// The message.
    public var description: String { message }
}

/// A five-field cron schedule with Vixie cron / cronie semantics: ranges, lists, steps,
/// month and weekday names, Sunday as 0 or 7, the @-macros, and "either day field"
/// matching when both day-of-month and day-of-week are restricted.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    /// Minutes (0–59) the expression fires at.
    public let minutes: Set<Int>
    /// Hours (0–23) the expression fires at.
    public let hours: Set<Int>
    /// Days of the month (1–31).
    public let daysOfMonth: Set<Int>
    /// Months (1–12).
    public let months: Set<Int>
    /// 0 = Sunday ... 6 = Saturday (7 is folded into 0).
    public let daysOfWeek: Set<Int>
    /// cron's rule: a field written as `*` (or starting with `*`) is unrestricted.
    public let dayOfMonthRestricted: Bool
    /// Whether the day-of-week field restricts (cron's rule, as for the day of the month).
    public let dayOfWeekRestricted: Bool
    /// A job "at a particular time" in cron(8)'s words: neither the minute nor the hour
    /// field is a wildcard and it is not @hourly. Only such jobs get the DST treatment.
    public let isFixedTime: Bool

    /// The expression as written.
    public var description: String { source }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses five fields (minute hour day-of-month month day-of-week) or an @-macro; throws `CronError` naming the field.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        source = trimmed
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let m = CronExpression.macros[trimmed.lowercased()] else {
                throw CronError(message: "unknown macro '\(trimmed)'; valid: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly")
            }
            expanded = m
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError(
                message:
                    "'\(trimmed)' has \(fields.count) field\(fields.count == 1 ? "" : "s"); a cron expression has 5: minute hour day-of-month month day-of-week (e.g. '30 2 * * *'), or a macro such as @daily"
            )
        }
        minutes = try CronExpression.field(fields[0], name: "minute", range: 0...59, names: nil)
        hours = try CronExpression.field(fields[1], name: "hour", range: 0...23, names: nil)
        daysOfMonth = try CronExpression.field(fields[2], name: "day-of-month", range: 1...31, names: nil)
        months = try CronExpression.field(fields[3], name: "month", range: 1...12, names: CronExpression.monthNames, nameBase: 1)
        var dow = try CronExpression.field(fields[4], name: "day-of-week", range: 0...7, names: CronExpression.dayNames)
        if dow.contains(7) { dow.remove(7); dow.insert(0) }
        daysOfWeek = dow
        isFixedTime = !fields[0].hasPrefix("*") && !fields[1].hasPrefix("*") && trimmed.lowercased() != "@hourly"
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
        try checkPossible()
    }

    /// Rejects schedules that can never fire, such as `0 0 31 2 *` or `0 0 30 2 *`.
    private func checkPossible() throws {
        // When day-of-week is restricted, cron fires on any matching weekday, which every month has.
        if dayOfWeekRestricted && dayOfMonthRestricted { return }
        if dayOfWeekRestricted && !dayOfMonthRestricted { return }
        let maxDays = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let possible = months.contains { m in daysOfMonth.contains { $0 <= maxDays[m - 1] } }
        if !possible {
            let ms = months.sorted().map { CronExpression.monthNames[$0 - 1].capitalized }.joined(separator: ", ")
            let ds = daysOfMonth.sorted().map(String.init).joined(separator: ",")
            throw CronError(message: "'\(source)' can never fire: no month in {\(ms)} has day \(ds)")
        }
    }

    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String]?, nameBase: Int = 0) throws -> Set<Int> {
        var out = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw CronError(message: "empty list item in \(name) field '\(text)'") }
            var body = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                body = String(part[..<slash])
                let stepText = String(part[part.index(after: slash)...])
                guard let s = Int(stepText), s > 0 else {
                    throw CronError(message: "step '/\(stepText)' in \(name) field must be a positive number")
                }
                step = s
            }
            var lo: Int
            var hi: Int
            if body == "*" {
                lo = range.lowerBound; hi = range.upperBound
                if name == "day-of-week" { hi = 6 }
            } else if let dash = body.firstIndex(of: "-") {
                lo = try value(String(body[..<dash]), name: name, range: range, names: names, nameBase: nameBase)
                hi = try value(String(body[body.index(after: dash)...]), name: name, range: range, names: names, nameBase: nameBase)
                guard lo <= hi else { throw CronError(message: "range \(body) in \(name) field runs backwards") }
            } else {
                lo = try value(body, name: name, range: range, names: names, nameBase: nameBase)
                // "5/10" means 5, 15, 25 ... to the end of the range (cronie).
                hi = part.contains("/") ? range.upperBound : lo
            }
            var v = lo
            while v <= hi { out.insert(v); v += step }
        }
        return out
    }

    private static func value(_ text: String, name: String, range: ClosedRange<Int>, names: [String]?, nameBase: Int) throws -> Int {
        if let n = Int(text) {
            guard range.contains(n) else {
                throw CronError(message: "\(name) value \(n) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return n
        }
        if let names, let i = names.firstIndex(of: text.lowercased()) { return i + nameBase }
        let valid = names.map { ", or a name: " + $0.joined(separator: " ") } ?? ""
        throw CronError(message: "'\(text)' is not valid in the \(name) field; use \(range.lowerBound)-\(range.upperBound)\(valid)")
    }

    /// Whether the schedule fires on this calendar day.
    public func matchesDay(dayOfMonth: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let domOK = daysOfMonth.contains(dayOfMonth)
        let dowOK = daysOfWeek.contains(weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return domOK || dowOK }
        return domOK && dowOK
    }
}
