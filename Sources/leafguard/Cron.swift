import ArgumentParser
import Foundation
import LeafCron

extension Leafguard {
    /// `leafguard cron …`.
    struct Cron: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cron expressions.", subcommands: [Next.self])
    }
}

extension Leafguard.Cron {
    /// `leafguard cron next "EXPR" [--after T] [--count N] [--tz ZONE]`.
    struct Next: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the next fire times of a cron expression, ISO 8601 with UTC offset, one a line.")

        @Argument(help: "A five-field cron expression or a macro such as @daily.") var expression: String
        @Option(help: "Start after this instant (ISO 8601; default now).") var after: String?
        @Option(help: "How many fire times.") var count = 5
        @Option(help: "IANA time zone the schedule is in (default UTC).") var tz = "UTC"

        func validate() throws {
            guard count >= 1 && count <= 10_000 else { throw ValidationError("--count must be between 1 and 10000") }
            guard TimeZone(identifier: tz) != nil else { throw ValidationError("unknown time zone '\(tz)'; use an IANA name such as Europe/London") }
            if let after, Self.parse(after) == nil { throw ValidationError("--after '\(after)' is not ISO 8601, e.g. 2026-03-29T00:30:00Z") }
        }

        static func parse(_ text: String) -> Date? {
            let f = ISO8601DateFormatter()
            if let d = f.date(from: text) { return d }
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return f.date(from: text)
        }

        func run() async throws {
            let cron: CronExpression
            do { cron = try CronExpression(expression) } catch let e as CronError {
                throw CommandFailure("invalid cron expression: \(e.message)", status: 2)
            }
            let zone = TimeZone(identifier: tz)!
            let start = after.flatMap(Self.parse) ?? Date()
            let out = DateFormatter()
            out.locale = Locale(identifier: "en_US_POSIX")
            out.timeZone = zone
            out.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
            for d in cron.nextFireTimes(after: start, count: count, timeZone: zone) { print(out.string(from: d)) }
        }
    }
}
