import Foundation

/// ISO 8601 instants as leafguard writes and reads them, in one place.
///
/// Every date leafguard reads from outside (a stored object, the planner database, a
/// state file, a YAML file, a command-line option) goes through `parse`, never straight to
/// Foundation: ICU's parser, behind both `ISO8601DateFormatter` and the `.iso8601` JSON
/// strategy, dies of SIGFPE on some hostile strings (a fraction of a hundred digits, found
/// by the snapshot fuzz target). `parse` hands ICU only the shape leafguard itself writes,
/// checked byte by byte first: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9
/// digits, then `Z` or `±HH:MM`.
public enum Timestamp {
    /// `2026-11-29T02:15:00Z`: seconds, UTC.
    public static func string(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    /// `2026-11-29T02:15:00.123Z`: milliseconds, UTC, so that instants within one second still order.
    public static func fractional(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// The instant `text` names, with or without a fraction; nil for any other text.
    public static func parse(_ text: String) -> Date? {
        guard let fraction = shape(Array(text.utf8)) else { return nil }
        let f = ISO8601DateFormatter()
        if fraction { f.formatOptions = [.withInternetDateTime, .withFractionalSeconds] }
        return f.date(from: text)
    }

    /// An instant, or a day (`2027-03-31`, read as its first second in UTC).
    public static func parseInstantOrDay(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        if bytes.count == 10, isDay(bytes[...]) { return parse(text + "T00:00:00Z") }
        return parse(text)
    }

    /// Whether the bytes have the shape of an instant, and then whether they carry a
    /// fraction; nil if they do not have the shape.
    static func shape(_ b: [UInt8]) -> Bool? {
        // YYYY-MM-DDTHH:MM:SS is 19 bytes; the longest form adds .nnnnnnnnn and +HH:MM.
        guard (20...35).contains(b.count), isDay(b[0..<10]), b[10] == UInt8(ascii: "T"),
            digits(b[11..<13]), b[13] == UInt8(ascii: ":"), digits(b[14..<16]), b[16] == UInt8(ascii: ":"),
            digits(b[17..<19])
        else { return nil }
        var i = 19
        var fraction = false
        if b[i] == UInt8(ascii: ".") {
            var j = i + 1
            while j < b.count, isDigit(b[j]) { j += 1 }
            guard (1...9).contains(j - i - 1) else { return nil }
            fraction = true
            i = j
        }
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") { return i + 1 == b.count ? fraction : nil }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), b.count == i + 6,
            digits(b[(i + 1)..<(i + 3)]), b[i + 3] == UInt8(ascii: ":"), digits(b[(i + 4)..<(i + 6)])
        else { return nil }
        return fraction
    }

    private static func isDay(_ b: ArraySlice<UInt8>) -> Bool {
        let s = b.startIndex
        return b.count == 10 && digits(b[s..<(s + 4)]) && b[s + 4] == UInt8(ascii: "-") && digits(b[(s + 5)..<(s + 7)])
            && b[s + 7] == UInt8(ascii: "-") && digits(b[(s + 8)..<(s + 10)])
    }
    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func digits(_ b: ArraySlice<UInt8>) -> Bool { b.allSatisfy(isDigit) }
}

extension JSONDecoder.DateDecodingStrategy {
    /// ISO 8601 through `Timestamp.parse`: the strategy for every JSON leafguard did not
    /// just write itself (Foundation's `.iso8601` hands hostile text straight to ICU).
    public static var timestamp: Self {
        .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text.prefix(60))' is not an ISO 8601 instant")
            }
            return date
        }
    }
}

extension JSONEncoder.DateEncodingStrategy {
    /// ISO 8601 with milliseconds, read back by `.timestamp`.
    public static var fractionalTimestamp: Self {
        .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Timestamp.fractional(date))
        }
    }
}
