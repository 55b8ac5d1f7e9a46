import Foundation
import LeafCron
import LeafTestSupport
import Testing

@Suite struct CronTests {
    @Test(arguments: [
        "*/15 * * * *", "1-20/3 2 * * *", "0 0 1 jan,jul *", "30 2 * * mon-fri", "0 0 * * 7",
        "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "0 0 29 2 *",
        "0 0 31 2 1",
    ])
    func validExpressionsParse(_ text: String) throws {
        _ = try CronExpression(text)
    }

    @Test(arguments: [
        ("0 0 31 2 *", "can never fire"), ("0 0 30 2 *", "can never fire"), ("61 * * * *", "out of range"),
        ("* * *", "has 3 fields"), ("@often", "unknown macro"), ("*/0 * * * *", "positive"), ("5-1 * * * *", "backwards"),
        ("0 0 * foo *", "not valid in the month field"), ("0 24 * * *", "out of range"), ("0 0 0 * *", "out of range"),
    ])
    func invalidExpressionsSayWhy(_ text: String, _ expected: String) {
        #expect {
            try CronExpression(text)
        } throws: { error in
            (error as? CronError)?.message.contains(expected) == true
        }
    }

    @Test func fieldsExpandAsCronDoes() throws {
        let e = try CronExpression("1-20/3 */6 * jan-mar sun,7,sat")
        #expect(e.minutes == [1, 4, 7, 10, 13, 16, 19])
        #expect(e.hours == [0, 6, 12, 18])
        #expect(e.months == [1, 2, 3])
        #expect(e.daysOfWeek == [0, 6])
    }

    @Test func bothDayFieldsRestrictedMeansEither() throws {
        let e = try CronExpression("0 0 13 * fri")
        #expect(e.matchesDay(dayOfMonth: 13, month: 5, weekday: 2))
        #expect(e.matchesDay(dayOfMonth: 7, month: 5, weekday: 5))
        #expect(!e.matchesDay(dayOfMonth: 7, month: 5, weekday: 4))
        let domOnly = try CronExpression("0 0 13 * *")
        #expect(!domOnly.matchesDay(dayOfMonth: 7, month: 5, weekday: 5))
    }
}

@Suite struct CronNextTests {
    static func at(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }
    static func iso(_ dates: [Date], _ zone: String) -> [String] {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: zone)!
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
        return dates.map { f.string(from: $0) }
    }
    static func next(_ expr: String, after: String, count: Int, zone: String = "UTC") throws -> [String] {
        iso(try CronExpression(expr).nextFireTimes(after: at(after), count: count, timeZone: TimeZone(identifier: zone)!), zone)
    }

    @Test func plainSchedulesStepForward() throws {
        #expect(
            try Self.next("*/15 * * * *", after: "2026-11-29T10:07:00Z", count: 3) == [
                "2026-11-29T10:15:00+00:00", "2026-11-29T10:30:00+00:00", "2026-11-29T10:45:00+00:00",
            ])
        #expect(try Self.next("@weekly", after: "2026-11-29T10:00:00Z", count: 2) == ["2026-12-06T00:00:00+00:00", "2026-12-13T00:00:00+00:00"])
        #expect(try Self.next("0 0 29 2 *", after: "2026-01-01T00:00:00Z", count: 2) == ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"])
        // Day-of-month 13 or any Friday.
        #expect(
            try Self.next("0 9 13 * fri", after: "2026-11-01T00:00:00Z", count: 3) == [
                "2026-11-06T09:00:00+00:00", "2026-11-13T09:00:00+00:00", "2026-11-20T09:00:00+00:00",
            ])
    }

    @Test func aFixedTimeSkippedBySpringForwardFiresOnceRightAfterTheChange() throws {
        // London, 2026-03-29: 01:00 GMT becomes 02:00 BST; 01:15 and 01:45 do not exist that day.
        #expect(
            try Self.next("15,45 1 * * *", after: "2026-03-29T00:00:00Z", count: 3, zone: "Europe/London")
                == ["2026-03-29T02:00:00+01:00", "2026-03-30T01:15:00+01:00", "2026-03-30T01:45:00+01:00"])
        // New York, 2026-03-08: 02:30 does not exist; it fires at 03:00 EDT.
        #expect(
            try Self.next("30 2 * * *", after: "2026-03-07T12:00:00Z", count: 2, zone: "America/New_York")
                == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"])
    }

    @Test func aFixedTimeRepeatedByFallBackFiresOnce() throws {
        #expect(
            try Self.next("30 1 * * *", after: "2026-10-24T12:00:00Z", count: 2, zone: "Europe/London")
                == ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"])
    }

    @Test func wildcardJobsFollowTheWallClock() throws {
        // Fall-back: the repeated hour runs twice. Spring-forward: the skipped hour does not run.
        #expect(
            try Self.next("*/30 1 * * *", after: "2026-10-24T23:59:00Z", count: 4, zone: "Europe/London")
                == ["2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-25T01:00:00+00:00", "2026-10-25T01:30:00+00:00"])
        #expect(try Self.next("*/30 1 * * *", after: "2026-03-28T23:59:00Z", count: 1, zone: "Europe/London") == ["2026-03-30T01:00:00+01:00"])
    }

    @Test func theCommandPrintsOffsetsAndRejectsBadInput() throws {
        let r = try leafguard(["cron", "next", "0 6 * * *", "--after", "2026-11-29T07:00:00Z", "--count", "2", "--tz", "Europe/Paris"])
        #expect(r.status == 0)
        #expect(r.stdout == "2026-11-30T06:00:00+01:00\n2026-12-01T06:00:00+01:00\n")
        #expect(try leafguard(["cron", "next", "0 0 31 2 *"]).status == 2)
        #expect(try leafguard(["cron", "next", "@daily", "--tz", "Mars/Base"]).status == 2)
        #expect(try leafguard(["cron", "next", "@daily", "--after", "yesterday"]).status == 2)
    }
}
