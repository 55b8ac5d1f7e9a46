import LeafCron
import Testing

@Suite struct CronTests {
    @Test(arguments: ["*/15 * * * *", "1-20/3 2 * * *", "0 0 1 jan,jul *", "30 2 * * mon-fri", "0 0 * * 7",
                      "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "0 0 29 2 *",
                      "0 0 31 2 1"])
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
