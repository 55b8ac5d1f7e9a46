import Foundation
import LeafTime
import Testing

/// Every date read from outside goes through `Timestamp.parse`, which must hand ICU only
/// the shape leafguard writes: ICU's parser dies of SIGFPE on a fraction of a hundred
/// digits, and Foundation's `.iso8601` JSON strategy reaches the same parser.
@Suite struct TimestampTests {
    @Test func readsEveryFormLeafguardWrites() throws {
        let at = Date(timeIntervalSince1970: 1_795_000_000.25)
        #expect(Timestamp.parse(Timestamp.string(at)) == Date(timeIntervalSince1970: 1_795_000_000))
        #expect(Timestamp.parse(Timestamp.fractional(at)) == at)
        #expect(Timestamp.parse("2026-11-29T02:15:00Z") == Date(timeIntervalSince1970: 1_795_918_500))
        #expect(Timestamp.parse("2026-11-29T03:15:00+01:00") == Timestamp.parse("2026-11-29T02:15:00Z"))
        #expect(Timestamp.parse("2026-11-29T02:15:00.123456789Z") != nil)
        #expect(Timestamp.parseInstantOrDay("2027-03-31") == Timestamp.parse("2027-03-31T00:00:00Z"))
    }

    @Test(arguments: [
        "", "2026", "2026-11-29", "2026-11-29T02:15:00", "2026-11-29 02:15:00Z", "2026-11-29T02:15:00.Z",
        "2026-11-29T02:15:00.1234567890Z", "2026-11-29T02:15:00ZZ", "2026-11-29T02:15:00+0100", "x026-11-29T02:15:00Z",
        "2026-11-29T02:15:00." + String(repeating: "1", count: 100) + "Z",
        "2026-12-02T17:04:56.2871111111111111111111111111111111111111111111111111111111111111111111Z",
    ])
    func refusesEveryOtherShapeWithoutReachingICU(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func theJSONStrategyRefusesAHostileFraction() throws {
        struct Dated: Decodable { let at: Date }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .timestamp
        let hostile = #"{"at":"2026-11-29T02:15:00.\#(String(repeating: "9", count: 100))Z"}"#
        #expect(throws: DecodingError.self) { try d.decode(Dated.self, from: Data(hostile.utf8)) }
        #expect(try d.decode(Dated.self, from: Data(#"{"at":"2026-11-29T02:15:00Z"}"#.utf8)).at == Timestamp.parse("2026-11-29T02:15:00Z"))
    }
}
